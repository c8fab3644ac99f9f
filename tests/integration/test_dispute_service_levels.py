"""Disputes' service levels on SQLite and PostgreSQL, with the clock under freezegun: the overdue
lists (most overdue first, across categories with targets of their own, paged and filtered) and
the figures by month and category, computed by hand.

Targets: 24 h to the first response and 15 days to the resolution; poor heating 4 h and 3 days.
Times are Beijing time (UTC+8); "now" is 20 February 2026, 12:00.

| dispute | category | opened | first response | closed |
|---|---|---|---|---|
| D6 | area_wrong | 31 Dec 23:59 (before the period) | 1 h later | open |
| D1 | payment_not_credited | 31 Jan 23:30 (January) | 10 h later | upheld 3 days later |
| D2 | poor_heating | 1 Feb 00:30 (February; 31 Jan in UTC) | 6 h later (target 4 h) | rejected 1 day later |
| D3 | area_wrong | 1 Feb 10:00 | none | open |
| D4 | area_wrong | 2 Feb 08:00 | none | withdrawn 2 h later |
| D5 | poor_heating | 19 Feb 12:00 | none | open |
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory

from application.authorization import Principal, Role
from application.disputes import SubjectRequest
from domain.dispute import DisputeCategory, DisputeChannel, DisputeClaim, SubjectKind
from domain.dispute_service_levels import ServiceClock, service_levels
from infrastructure.container import Container
from infrastructure.settings import DisputeTargetSetting
from projections.dispute_service_levels import DisputeServiceLevelQueries, OverdueFilter
from tests.strategies import register_household

D = Decimal
BEIJING = ZoneInfo("Asia/Shanghai")
SERVICE = Principal("service-chen", Role.CUSTOMER_SERVICE)
NOW = datetime(2026, 2, 20, 12, 0, tzinfo=BEIJING)


def beijing(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BEIJING)


@pytest.fixture
def targets(container: Container) -> Container:
    container.settings.dispute_first_response_target_hours = 24
    container.settings.dispute_resolution_target_days = 15
    container.settings.dispute_targets_by_category = {
        DisputeCategory.POOR_HEATING: DisputeTargetSetting(first_response_hours=4, resolution_days=3)
    }
    return container


class Desk:
    """Customer service at its desk, with the clock in the test's hand."""

    def __init__(self, container: Container, clock: FrozenDateTimeFactory) -> None:
        self.container = container
        self.clock = clock

    def at(self, moment: datetime) -> Desk:
        self.clock.move_to(moment)
        return self

    def open(self, reference: str, category: DisputeCategory, account: str = "SL-1") -> UUID:
        claim = DisputeClaim(category, "as the household told it", D("10.00"), DisputeChannel.PHONE)
        subject = SubjectRequest(SubjectKind.PAYMENT, payment_reference=f"R-{reference}", season_code="2025-2026")
        return self.container.disputes.open(SERVICE, account, subject, claim, reference).dispute_id

    def answer(self, dispute_id: UUID) -> None:
        self.container.disputes.inform_household(SERVICE, dispute_id, "we are looking into it", DisputeChannel.PHONE)


@pytest.fixture
def disputes(targets: Container) -> Iterator[dict[str, UUID]]:
    """The six disputes of the module's table, the clock left at NOW."""
    with freeze_time(beijing(1, 1, 9, year=2025)) as clock:
        register_household(targets.ledger, "SL-1")
        register_household(targets.ledger, "SL-2", community="金地")
        desk = Desk(targets, clock)
        opened = {"D6": desk.at(beijing(12, 31, 23, 59, year=2025)).open("D6", DisputeCategory.AREA_WRONG)}
        desk.at(beijing(1, 1, 0, 59)).answer(opened["D6"])
        opened["D1"] = desk.at(beijing(1, 31, 23, 30)).open("D1", DisputeCategory.PAYMENT_NOT_CREDITED)
        opened["D2"] = desk.at(beijing(2, 1, 0, 30)).open("D2", DisputeCategory.POOR_HEATING, "SL-2")
        desk.at(beijing(2, 1, 6, 30)).answer(opened["D2"])
        desk.at(beijing(2, 1, 9, 30)).answer(opened["D1"])
        opened["D3"] = desk.at(beijing(2, 1, 10)).open("D3", DisputeCategory.AREA_WRONG)
        desk.at(beijing(2, 2, 0, 30))
        targets.disputes.resolve(SERVICE, opened["D2"], "rejected", "the flat was 19 °C when visited")
        opened["D4"] = desk.at(beijing(2, 2, 8)).open("D4", DisputeCategory.AREA_WRONG)
        desk.at(beijing(2, 2, 10))
        targets.disputes.withdraw(SERVICE, opened["D4"], "the household found its mistake")
        desk.at(beijing(2, 3, 23, 30))
        targets.disputes.resolve(SERVICE, opened["D1"], "upheld", "the bank's transfer was credited")
        opened["D5"] = desk.at(beijing(2, 19, 12)).open("D5", DisputeCategory.POOR_HEATING, "SL-2")
        desk.at(NOW)
        targets.catch_up()
        yield opened


def test_the_read_model_keeps_the_times_the_levels_are_measured_by(
    targets: Container, disputes: dict[str, UUID]
) -> None:
    reads = DisputeServiceLevelQueries(targets.engine)
    by_month = {times.opened_at: times for times in reads.times(date(2026, 1, 1), date(2026, 2, 28))}
    d2 = by_month[beijing(2, 1, 0, 30)]
    assert (d2.opened_on, d2.category, d2.state) == (date(2026, 2, 1), "poor_heating", "rejected")
    assert (d2.first_response_at, d2.closed_at) == (beijing(2, 1, 6, 30), beijing(2, 2, 0, 30))
    assert by_month[beijing(1, 31, 23, 30)].opened_on == date(2026, 1, 31)
    assert len(by_month) == 5  # D6 was opened on 31 December


def test_overdue_for_the_first_response_most_overdue_first_across_targets(
    targets: Container, disputes: dict[str, UUID]
) -> None:
    reads = DisputeServiceLevelQueries(targets.engine)
    service_targets = targets.settings.dispute_service_targets()
    page = reads.overdue(ServiceClock.FIRST_RESPONSE, service_targets, NOW)
    assert [item.dispute_id for item in page.items] == [disputes["D3"], disputes["D5"]]
    assert page.total == 2 and not page.has_more
    d3, d5 = page.items
    # D3: due 2 Feb 10:00, 18 days and 2 hours before now; D5 (4 h): due 19 Feb 16:00, 20 hours.
    assert (d3.due_at, d3.overdue_hours, d3.target_hours) == (beijing(2, 2, 10), D("434.00"), 24)
    assert (d5.due_at, d5.overdue_hours, d5.target_hours) == (beijing(2, 19, 16), D("20.00"), 4)
    assert (d5.account_number, d5.community, d5.first_response_at) == ("SL-2", "金地", None)

    second = reads.overdue(ServiceClock.FIRST_RESPONSE, service_targets, NOW, limit=1, offset=1)
    assert ([item.dispute_id for item in second.items], second.total, second.has_more) == ([disputes["D5"]], 2, False)
    first = reads.overdue(ServiceClock.FIRST_RESPONSE, service_targets, NOW, limit=1)
    assert ([item.dispute_id for item in first.items], first.has_more) == ([disputes["D3"]], True)
    heating = reads.overdue(ServiceClock.FIRST_RESPONSE, service_targets, NOW, OverdueFilter(category="poor_heating"))
    assert [item.dispute_id for item in heating.items] == [disputes["D5"]]
    jindi = reads.overdue(ServiceClock.FIRST_RESPONSE, service_targets, NOW, OverdueFilter(community="金地"))
    assert [item.dispute_id for item in jindi.items] == [disputes["D5"]]
    # Four hours earlier D5 was just due: not yet overdue.
    earlier = reads.overdue(ServiceClock.FIRST_RESPONSE, service_targets, beijing(2, 19, 16))
    assert [item.dispute_id for item in earlier.items] == [disputes["D3"]]


def test_overdue_for_the_resolution(targets: Container, disputes: dict[str, UUID]) -> None:
    reads = DisputeServiceLevelQueries(targets.engine)
    page = reads.overdue(ServiceClock.RESOLUTION, targets.settings.dispute_service_targets(), NOW)
    # D6: due 15 Jan 23:59, 35 days 12 h 1 min ago; D3: due 16 Feb 10:00, 98 hours ago. D5's three
    # days have not passed; D1, D2 and D4 are closed.
    assert [(item.dispute_id, item.overdue_hours) for item in page.items] == [
        (disputes["D6"], D("852.02")),
        (disputes["D3"], D("98.00")),
    ]
    assert page.items[0].first_response_at == beijing(1, 1, 0, 59)


def test_figures_by_month_and_category_as_computed_by_hand(targets: Container, disputes: dict[str, UUID]) -> None:
    reads = DisputeServiceLevelQueries(targets.engine)
    first_day, last_day = date(2026, 1, 1), date(2026, 2, 28)
    report = service_levels(
        reads.times(first_day, last_day), targets.settings.dispute_service_targets(), first_day, last_day, NOW
    )
    january = report.by_month["2026-01"]
    assert (january.opened, january.resolved, january.still_open) == (1, 1, 0)
    assert (january.first_response.median, january.first_response.within_target_percent) == (D("10.00"), D("100.0"))
    assert (january.resolution.median, january.resolution.within_target_percent) == (D("3.00"), D("100.0"))

    february = report.by_month["2026-02"]
    assert (february.opened, february.resolved, february.withdrawn, february.still_open) == (4, 1, 1, 2)
    # Only D2 was answered (6 h, late for poor heating); D3 and D5 wait past their targets.
    first = february.first_response
    assert (first.measured, first.median, first.p90, first.met, first.missed, first.pending) == (
        1,
        D("6.00"),
        D("6.00"),
        0,
        3,
        0,
    )
    assert first.within_target_percent == D("0.0")
    # D2 rejected within its 3 days; D3 past its 15; D5 within its 3 still.
    resolution = february.resolution
    assert (resolution.median, resolution.met, resolution.missed, resolution.pending) == (D("1.00"), 1, 1, 1)
    assert resolution.within_target_percent == D("50.0")

    heating = report.by_month_and_category[("2026-02", "poor_heating")]
    assert (heating.opened, heating.first_response.missed, heating.resolution.within_target_percent) == (
        2,
        2,
        D("100.0"),
    )
    assert report.by_month_and_category[("2026-02", "area_wrong")].withdrawn == 1
    assert set(report.by_category) == {"area_wrong", "payment_not_credited", "poor_heating"}

    total = report.total
    assert (total.opened, total.resolved, total.withdrawn, total.still_open) == (5, 2, 1, 2)
    # First responses 10 h and 6 h: median 8, p90 6 + 0.9 × 4 = 9.6; met 1 of 4 judged.
    assert (total.first_response.median, total.first_response.p90) == (D("8.00"), D("9.60"))
    assert total.first_response.within_target_percent == D("25.0")
    # Resolutions 3 days and 1 day: median 2, p90 1 + 0.9 × 2 = 2.8; met 2 of 3 judged.
    assert (total.resolution.median, total.resolution.p90) == (D("2.00"), D("2.80"))
    assert total.resolution.within_target_percent == D("66.7")


def test_a_month_boundary_in_shanghai_is_not_one_in_utc(targets: Container, disputes: dict[str, UUID]) -> None:
    """D1 and D2 were both opened on 31 January in UTC; in Shanghai D2 is February's."""
    reads = DisputeServiceLevelQueries(targets.engine)
    january_only = service_levels(
        reads.times(date(2026, 1, 1), date(2026, 1, 31)),
        targets.settings.dispute_service_targets(),
        date(2026, 1, 1),
        date(2026, 1, 31),
        NOW,
    )
    assert (list(january_only.by_month), january_only.total.opened) == (["2026-01"], 1)
    assert list(january_only.by_category) == ["payment_not_credited"]
