"""Room controllers in the demo's flats, and their reports of the season so far (issue 14).

Every flat that takes heat gets a controller (``RC-`` and its account number, a valve of five
gears); a suspended flat (报停, its valve sealed) gets none. Each controller reports twice a day
(08:00 and 20:00 in Asia/Shanghai; a real one every hour or so, but the demo's read models need no
more and its load stays short) up to the ledger's clock, as if a gateway had recorded them over
MQTT: room temperature, humidity, the set temperature, the valve's gear and state, its accumulated
open hours, signal and battery. These are written at load, not played by a live simulator, so the
demo repeats: seeded like the rest of it (``heatledger demo --room-reports``).

The rooms follow the weather: an occupied flat keeps about 20 °C, a flat at the building's end or
under the roof (a high position coefficient) loses a degree for every four below −5 °C outdoors
and so falls below 18 °C in a cold spell (the under-heated list has something to show), and a
vacant flat's valve stays on gear 1 at about 16 °C. The valve opens wider the colder it is.

Idempotent: a controller installed already is kept, and a report recorded already (by its id) is
recorded once.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from application.authorization import Principal, Role
from application.valves import MAXIMUM_REPORT_BATCH, ReportItem, RoomControllers
from domain.day_split import BUSINESS_TIME_ZONE, business_day
from domain.errors import ConflictError
from domain.valve import DeviceReport, ReportSource
from infrastructure.demo.community import DEFAULT_SEED
from infrastructure.demo.model import DemoCommunity, DemoFlat, Occupancy
from infrastructure.demo.weather import daily_mean_temperatures_c

DEVICE_PREFIX = "RC-"
GEARS = 5
REPORT_HOURS = (8, 20)
HOURS_BETWEEN_REPORTS = 12
# Who the reports are recorded as: the demo stands in for a gateway.
DEMO_GATEWAY = Principal("gateway:demo", Role.DEVICE)
# A flat whose position coefficient is above this loses heat on cold days (end flats, top floor).
EXPOSED_COEFFICIENT = 1.3
TENTH = Decimal("0.1")
THOUSANDTH = Decimal("0.001")

# (what is being done, steps done, steps in all)
RoomProgress = Callable[[str, int, int], None]


@dataclass
class RoomControllersReport:
    """What the demo's controllers are, and what this load recorded."""

    controllers: int = 0
    installed: int = 0
    reports: int = 0
    recorded: int = 0


def device_id_of(account_number: str) -> str:
    return f"{DEVICE_PREFIX}{account_number}"


def heated_flats(community: DemoCommunity) -> list[DemoFlat]:
    """The flats that get a controller: every one but the suspended."""
    return [
        flat
        for building in community.buildings
        for flat in building.flats
        if flat.household.occupancy is not Occupancy.SUSPENDED
    ]


def flat_reports(
    flat: DemoFlat, community: DemoCommunity, outdoor_c: list[float], now: datetime, seed: int
) -> Iterator[DeviceReport]:
    """A flat's reports from the season's first day to ``now`` (later than the meters' readings,
    which close at the last whole day: a controller reports as it goes), oldest first."""
    account = flat.household.account_number
    generator = random.Random(f"rooms:{seed}:{account}")
    vacant = flat.household.occupancy is Occupancy.VACANT
    preference_c = generator.gauss(20.5, 0.6)
    exposed = flat.behaviour.position_coefficient > EXPOSED_COEFFICIENT
    open_hours = Decimal(round(generator.uniform(0, 300), 3)).quantize(THOUSANDTH)
    signal_dbm = generator.randint(-95, -68)
    battery = 100.0
    # Up to today, but not past the days whose readings were loaded (``heatledger demo --days``).
    today_offset = (business_day(now) - community.season.first_day).days
    last_offset = min(today_offset, community.days, len(outdoor_c) - 1)
    for offset in range(last_offset + 1):
        day = community.season.first_day + timedelta(days=offset)
        outdoor = outdoor_c[offset]
        for hour in REPORT_HOURS:
            measured_at = datetime.combine(day, time(hour), BUSINESS_TIME_ZONE).astimezone(UTC)
            if measured_at > now:
                return
            gear = 1 if vacant else (5 if outdoor < -5 else 4 if outdoor < 0 else 3)
            room = 16.0 if vacant else preference_c + (0.4 if hour == 20 else -0.3)
            if exposed and not vacant:
                room -= max(0.0, -5.0 - outdoor) / 4
            room += generator.gauss(0.0, 0.3)
            open_hours += Decimal(HOURS_BETWEEN_REPORTS * gear / GEARS).quantize(THOUSANDTH)
            battery -= 0.02
            yield DeviceReport(
                report_id=f"{account}-{measured_at:%Y%m%d%H}",
                measured_at=measured_at,
                room_temperature_c=Decimal(str(room)).quantize(TENTH, ROUND_HALF_UP),
                humidity_percent=Decimal(str(generator.uniform(30, 48))).quantize(TENTH, ROUND_HALF_UP),
                set_temperature_c=Decimal("16.0") if vacant else Decimal("20.0"),
                valve_gear=gear,
                valve_state="open" if gear == GEARS else "partial",
                valve_open_hours_total=open_hours,
                signal_dbm=signal_dbm + generator.randint(-3, 3),
                battery_percent=int(battery),
            )


def record_demo_room_controllers(
    controllers: RoomControllers,
    community: DemoCommunity,
    principal: Principal,
    now: datetime,
    advance: RoomProgress | None = None,
    seed: int = DEFAULT_SEED,
) -> RoomControllersReport:
    """Install the demo's controllers (as ``principal``) and record their reports up to ``now``."""
    report = RoomControllersReport()
    flats = heated_flats(community)
    outdoor_c = daily_mean_temperatures_c(community.season, seed)
    for done, flat in enumerate(flats, start=1):
        report.controllers += 1
        report.installed += _install(controllers, flat, principal)
        items = [
            ReportItem(device_id_of(flat.household.account_number), device_report, ReportSource.MQTT)
            for device_report in flat_reports(flat, community, outdoor_c, now, seed)
        ]
        for start in range(0, len(items), MAXIMUM_REPORT_BATCH):
            recorded = controllers.record_reports(items[start : start + MAXIMUM_REPORT_BATCH], DEMO_GATEWAY)
            report.reports += len(recorded)
            report.recorded += sum(recorded)
        if advance is not None:
            advance("room controllers", done, len(flats))
    return report


def _install(controllers: RoomControllers, flat: DemoFlat, principal: Principal) -> int:
    """1 when the flat's controller was installed now, 0 when it was already."""
    device_id = device_id_of(flat.household.account_number)
    try:
        controllers.install(device_id, flat.household.account_number, GEARS, principal, "demo: room controller")
    except ConflictError:
        return 0
    return 1
