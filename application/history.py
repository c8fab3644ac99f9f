"""A record's history: every event of a household, meter, bill, tariff, payment or room
controller, in order.

An auditor asks what happened, when it happened in the world, when the ledger learned it, who did
it, why, and under which request or batch. Each event answers that itself (``CommandContext``
fields, its own timestamp, the world time it carries), so a history is read from the event store,
never from a read model, which keeps only the latest state.

Reading is paged: a page reads the stream in chunks after the cursor (the last version returned),
decodes only the events whose type is asked for, and stops after ``limit`` events or after
``MAXIMUM_SCANNED_PER_PAGE`` stored events, whichever comes first, so a meter with 10,000 readings
is never decoded whole. A page cut short by that bound carries a cursor like any other.

Personal data (docs/audit.md, "History") is masked for the roles that may not see it, in the
payload and in whatever is made of it (the summaries are filled from the masked payload). An
auditor's read of a household's personal data is written to the access log before it is answered.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent

from application.authorization import Permission, Principal, Role
from domain import ids
from domain.billing_period import BillingPeriod
from domain.errors import NotFoundError
from domain.household import Household
from domain.meter import Meter
from domain.payment import Payment
from domain.tariff import Tariff
from domain.valve import RoomController, room_controller_id

# What a masked value reads as, in the payload and in the summary.
MASK = "***"
DEFAULT_PAGE_SIZE = 100
MAXIMUM_PAGE_SIZE = 500
# Stored events read per query when filters may skip many of them.
SCAN_CHUNK = 500
# A bound on the stored events one page reads (and may decode): about 0.1 s of decoding.
MAXIMUM_SCANNED_PER_PAGE = 2_000
# No billing period holds more events than this (an opening, day changes and a season's bills).
MAXIMUM_PERIOD_EVENTS = 10_000

# Roles that may see personal data in a history; every other reader sees it masked.
PERSONAL_DATA_ROLES = frozenset({Role.ADMIN, Role.CLERK, Role.CUSTOMER_SERVICE, Role.AUDITOR})
# Roles whose reads of personal data are themselves logged: auditors come from outside the
# company's daily work, so each of their looks at a household's personal data leaves a trace.
LOGGED_ROLES = frozenset({Role.AUDITOR})

# Payload fields that are not part of the event's details: shown in their own columns, or the
# library's own bookkeeping.
_NOT_DETAILS = frozenset(
    {
        "timestamp",
        "originator_id",
        "originator_version",
        "originator_topic",
        "actor",
        "reason",
        "correlation_id",
        "batch_id",
    }
)


class HistoryKind(StrEnum):
    """The records that have a history."""

    HOUSEHOLD = "household"
    METER = "meter"
    BILL = "bill"
    TARIFF = "tariff"
    PAYMENT = "payment"
    VALVE = "valve"


# The aggregate whose events make each kind's history (a bill's: its billing period's).
AGGREGATES: dict[HistoryKind, type[Aggregate]] = {
    HistoryKind.HOUSEHOLD: Household,
    HistoryKind.METER: Meter,
    HistoryKind.BILL: BillingPeriod,
    HistoryKind.TARIFF: Tariff,
    HistoryKind.PAYMENT: Payment,
    HistoryKind.VALVE: RoomController,
}


def event_classes(aggregate: type[Aggregate]) -> dict[str, type[Any]]:
    """The aggregate's own event classes by class name (the library's ``Event`` and ``Created``
    bases, which no command records, left out)."""
    bases = (aggregate.Event, aggregate.Created)
    return {
        name: value
        for name, value in vars(aggregate).items()
        if isinstance(value, type) and issubclass(value, Aggregate.Event) and value not in bases
    }


def event_key(event_class: type[Any]) -> str:
    """The stable key of an event class in the tables below: ``Household.Registered``."""
    return event_class.__qualname__


@dataclass(frozen=True)
class WorldTime:
    """Which payload fields say when an event happened in the world: a moment (``at``), a day
    (``on``), both or neither."""

    at: str | None = None
    on: str | None = None


# When each event happened in the world, as the event itself carries it. An event without a
# world time (a dispute opened, a tariff opened) happened when it was recorded.
WORLD_TIMES: dict[str, WorldTime] = {
    "Household.Registered": WorldTime(on="registered_on"),
    "Household.AreaCorrected": WorldTime(on="effective_on"),
    "Household.HeatingSuspended": WorldTime(on="effective_on"),
    "Household.HeatingResumed": WorldTime(on="effective_on"),
    "Household.OwnerChanged": WorldTime(on="effective_on"),
    "Household.Deregistered": WorldTime(on="effective_on"),
    "Household.MeterAttached": WorldTime(at="attached_at"),
    "Household.MeterDetached": WorldTime(at="detached_at"),
    "Household.MarkedVulnerable": WorldTime(),
    "Household.VulnerabilityCleared": WorldTime(),
    "Household.DisputeOpened": WorldTime(),
    "Household.DisputeClosed": WorldTime(),
    "Meter.Commissioned": WorldTime(at="commissioned_at"),
    "Meter.AttachedToHousehold": WorldTime(at="attached_at"),
    "Meter.DetachedFromHousehold": WorldTime(at="detached_at"),
    "Meter.ReadingRecorded": WorldTime(at="measured_at"),
    "Meter.FaultReported": WorldTime(at="measured_at"),
    "Meter.FaultCleared": WorldTime(at="measured_at"),
    "Meter.Decommissioned": WorldTime(at="decommissioned_at"),
    "Meter.VerificationRecorded": WorldTime(on="verified_on"),
    # The reading withdrawn is named by its time: that is the moment the void is about.
    "Meter.ReadingVoided": WorldTime(at="measured_at"),
    # Intervals are named by their start (as the heat-decision endpoints name them).
    "Meter.FaultyIntervalEstimated": WorldTime(at="interval_start"),
    "Meter.IntervalsRecharged": WorldTime(at="since"),
    "Meter.ImplausibleHeatDecided": WorldTime(at="interval_start"),
    "BillingPeriod.Opened": WorldTime(on="first_day"),
    "BillingPeriod.SeasonDaysChanged": WorldTime(),
    "BillingPeriod.BillIssued": WorldTime(on="issued_on"),
    "Tariff.Opened": WorldTime(),
    "Tariff.VersionPublished": WorldTime(on="effective_from"),
    "Tariff.VersionCorrected": WorldTime(on="approved_on"),
    "Payment.Received": WorldTime(at="received_at", on="received_on"),
    "Payment.Reversed": WorldTime(on="reversed_on"),
    "RoomController.Installed": WorldTime(at="installed_at"),
    "RoomController.CommandRequested": WorldTime(at="requested_at"),
    "RoomController.CommandApproved": WorldTime(at="approved_at"),
    "RoomController.CommandSuperseded": WorldTime(at="superseded_at"),
    "RoomController.CommandDispatched": WorldTime(at="dispatched_at"),
    "RoomController.CommandAcknowledged": WorldTime(at="acknowledged_at"),
    "RoomController.CommandRefused": WorldTime(at="refused_at"),
    "RoomController.CommandTimedOut": WorldTime(at="timed_out_at"),
    "RoomController.CommandConfirmed": WorldTime(at="confirmed_at"),
    "RoomController.ReportRecorded": WorldTime(at="measured_at"),
}

# Personal data in the payloads (docs/audit.md, "History"): the flat a household lives in, and the
# reference that ties a payment to the payer at the bank or the payment provider.
PERSONAL_PAYLOAD_FIELDS: dict[str, frozenset[str]] = {
    "Household.Registered": frozenset({"entrance", "floor", "flat"}),
    "Payment.Received": frozenset({"reference"}),
}
# Aggregates whose free-text reasons are personal data: clerks write there what the customer told
# them (the new holder of an owner change, an illness behind a vulnerability, a dispute's story).
PERSONAL_REASON_AGGREGATES = frozenset({"Household", "Payment"})


def personal_fields(key: str) -> frozenset[str]:
    """The fields of the event class ``key`` (``Household.Registered``) that are personal data."""
    fields = PERSONAL_PAYLOAD_FIELDS.get(key, frozenset())
    if key.split(".")[0] in PERSONAL_REASON_AGGREGATES:
        fields = fields | {"reason"}
    return fields


def may_see_personal_data(viewer: Principal) -> bool:
    """Whether ``viewer``'s role sees personal data unmasked."""
    return viewer.role in PERSONAL_DATA_ROLES


def known_event_types(kind: HistoryKind) -> list[str]:
    """The event type names a history of ``kind`` may hold, as the ``event_type`` filter takes them."""
    return sorted(event_classes(AGGREGATES[kind]))


def unknown_event_types(kind: HistoryKind, names: Collection[str]) -> list[str]:
    """The names in ``names`` that are no event type of ``kind``'s aggregate."""
    known = set(known_event_types(kind))
    return sorted({name for name in names if name not in known})


# -- what a page is made of ------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryQuery:
    """Which events a page holds: after a version, at most ``limit``, recorded in
    ``[recorded_from, recorded_to)``, of the types named (none named: every type)."""

    after_version: int = 0
    limit: int = DEFAULT_PAGE_SIZE
    recorded_from: datetime | None = None
    recorded_to: datetime | None = None
    event_types: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        assert self.after_version >= 0, "versions start at 1"
        assert 1 <= self.limit <= MAXIMUM_PAGE_SIZE, "a page holds 1 to MAXIMUM_PAGE_SIZE events"

    @property
    def filtered(self) -> bool:
        return bool(self.event_types) or self.recorded_from is not None or self.recorded_to is not None

    def wants_type(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types

    def wants_time(self, recorded_at: datetime) -> bool:
        after_start = self.recorded_from is None or recorded_at >= self.recorded_from
        return after_start and (self.recorded_to is None or recorded_at < self.recorded_to)


@dataclass(frozen=True)
class HistoryEntry:
    """One event as a row of a history.

    ``details`` is the event's payload without the fields shown in their own columns; a masked
    field reads ``MASK`` there (and in ``reason``). ``personal_fields`` names the event's personal
    data, ``masked`` says whether it was hidden from this reader."""

    version: int
    event_type: str
    event_key: str
    recorded_at: datetime
    happened_at: datetime | None
    effective_on: date | None
    actor: str
    reason: str
    correlation_id: UUID | None
    details: Mapping[str, Any]
    personal_fields: tuple[str, ...]
    masked: bool

    @property
    def masked_fields(self) -> tuple[str, ...]:
        return self.personal_fields if self.masked else ()

    @property
    def shows_personal_data(self) -> bool:
        return bool(self.personal_fields) and not self.masked


@dataclass(frozen=True)
class HistoryPage:
    """A page of a history; ``next_after_version`` is where the next page starts (None: the
    stream holds nothing after this page)."""

    entries: tuple[HistoryEntry, ...]
    next_after_version: int | None

    @property
    def shows_personal_data(self) -> bool:
        return any(entry.shows_personal_data for entry in self.entries)


def history_entry(event: Any, show_personal: bool) -> HistoryEntry:
    """The row of a decoded event; its personal data masked unless ``show_personal``."""
    key = event_key(type(event))
    payload = vars(event)
    personal = personal_fields(key)
    masked = bool(personal) and not show_personal
    world = WORLD_TIMES.get(key, WorldTime())
    details = {
        name: MASK if masked and name in personal else value
        for name, value in payload.items()
        if name not in _NOT_DETAILS
    }
    reason = str(payload.get("reason", ""))
    correlation_id = payload.get("correlation_id", payload.get("batch_id"))
    return HistoryEntry(
        version=event.originator_version,
        event_type=type(event).__name__,
        event_key=key,
        recorded_at=event.timestamp,
        happened_at=payload.get(world.at) if world.at else None,
        effective_on=payload.get(world.on) if world.on else None,
        actor=str(payload.get("actor", "")),
        reason=MASK if masked and "reason" in personal else reason,
        correlation_id=correlation_id,
        details=details,
        personal_fields=tuple(sorted(personal)),
        masked=masked,
    )


def plain(value: Any) -> Any:
    """``value`` as JSON takes it: decimals as exact text, times as ISO 8601, ids as text,
    dataclasses as objects, tuples as lists."""
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(name): plain(item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    return str(value)  # Decimal, UUID, and anything else by its text


# -- reading the event store -----------------------------------------------------------------


class EventStream(Protocol):
    """One aggregate's stored events, read a chunk at a time."""

    def stored_after(self, version: int, limit: int) -> Sequence[StoredEvent]:
        """At most ``limit`` stored events with a version above ``version``, in order."""
        ...

    def decode(self, stored: StoredEvent) -> Any:
        """The domain event of a stored one (upcast to the class's current version)."""
        ...


class StoredEventStream:
    """An aggregate's events in the application's event store."""

    def __init__(self, application: Application[UUID], aggregate_id: UUID) -> None:
        self.application = application
        self.aggregate_id = aggregate_id

    def stored_after(self, version: int, limit: int) -> Sequence[StoredEvent]:
        return self.application.recorder.select_events(self.aggregate_id, gt=version, limit=limit)

    def decode(self, stored: StoredEvent) -> Any:
        return self.application.mapper.to_domain_event(stored)


def topic_event_type(topic: str) -> str:
    """The class name in a stored event's topic (``domain.meter:Meter.ReadingRecorded``)."""
    return topic.rsplit(":", 1)[-1].rsplit(".", 1)[-1]


Inclusion = Callable[[Any], bool]


def read_history(
    stream: EventStream, query: HistoryQuery, show_personal: bool, include: Inclusion | None = None
) -> HistoryPage:
    """A page of ``stream``'s history after ``query.after_version``.

    ``include`` narrows the events further (a bill's history takes only what concerns the bill).
    Stops after ``query.limit`` events or ``MAXIMUM_SCANNED_PER_PAGE`` stored ones; the next page
    starts after the last event read, so paging never skips or repeats one."""
    entries: list[HistoryEntry] = []
    after = query.after_version
    scanned = 0
    # Unfiltered, one event more than the page tells whether another page follows.
    chunk_size = SCAN_CHUNK if query.filtered or include is not None else query.limit + 1
    while scanned < MAXIMUM_SCANNED_PER_PAGE:
        wanted = min(chunk_size, MAXIMUM_SCANNED_PER_PAGE - scanned)
        chunk = stream.stored_after(after, wanted)
        for position, stored in enumerate(chunk):
            assert stored.originator_version > after, "the store gives a stream's events in order"
            after = stored.originator_version
            scanned += 1
            entry = _wanted_entry(stream, stored, query, show_personal, include)
            if entry is not None:
                entries.append(entry)
            if len(entries) == query.limit:
                more = position + 1 < len(chunk) or bool(stream.stored_after(after, 1))
                return HistoryPage(tuple(entries), after if more else None)
        if len(chunk) < wanted:
            return HistoryPage(tuple(entries), None)
    return HistoryPage(tuple(entries), after)


def _wanted_entry(
    stream: EventStream, stored: StoredEvent, query: HistoryQuery, show_personal: bool, include: Inclusion | None
) -> HistoryEntry | None:
    if not query.wants_type(topic_event_type(stored.topic)):
        return None  # skipped without decoding it
    event = stream.decode(stored)
    if not query.wants_time(event.timestamp) or (include is not None and not include(event)):
        return None
    return history_entry(event, show_personal)


# -- a bill's history: what of its billing period concerns it ------------------------------


def bill_inclusion(stream: EventStream, bill_id: UUID) -> Inclusion:
    """Which events of a billing period concern the bill ``bill_id``: the period's opening (the
    tariff, area and coefficient the bill was computed with), the changes of the season's days
    recorded before the bill, and the bill's issue. NotFoundError when the period never issued it."""
    issued_version = _bill_issue_version(stream, bill_id)

    def concerns(event: Any) -> bool:
        if isinstance(event, BillingPeriod.Opened):
            return True
        if isinstance(event, BillingPeriod.SeasonDaysChanged):
            return bool(event.originator_version < issued_version)
        return bool(event.originator_version == issued_version)

    return concerns


def _bill_issue_version(stream: EventStream, bill_id: UUID) -> int:
    after = 0
    while after < MAXIMUM_PERIOD_EVENTS:
        chunk = stream.stored_after(after, SCAN_CHUNK)
        for stored in chunk:
            after = stored.originator_version
            is_bill = topic_event_type(stored.topic) == BillingPeriod.BillIssued.__name__
            if is_bill and stream.decode(stored).bill_id == bill_id:
                return after
        if len(chunk) < SCAN_CHUNK:
            break
    raise NotFoundError(f"no bill {bill_id}", kind="bill", key=str(bill_id))


# -- the access log ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonalDataRead:
    """One read of a household's personal data: who, in which role, when, which household, where."""

    read_at: datetime
    actor: str
    role: str
    account_number: str
    endpoint: str


class AccessLog(Protocol):
    """Where reads of personal data are written down, never to be edited or removed."""

    def record(self, read: PersonalDataRead) -> None: ...


# -- the use cases ----------------------------------------------------------------------------


class Histories:
    """The histories of households, meters, bills, tariffs and payments, read from the event store.

    Each read requires ``READ_LEDGER``, masks personal data for roles outside
    ``PERSONAL_DATA_ROLES`` and logs a read of personal data by a role in ``LOGGED_ROLES`` before
    the page is handed out (a read that cannot be logged is not answered)."""

    def __init__(self, application: Application[UUID], access_log: AccessLog, clock: Callable[[], datetime]) -> None:
        self.application = application
        self.access_log = access_log
        self.clock = clock

    def household(self, viewer: Principal, account_number: str, query: HistoryQuery, endpoint: str) -> HistoryPage:
        """A household's events: registration, areas, suspensions, owner changes, meters…"""
        stream = self._existing(ids.household_id(account_number), "household", account_number)
        page = self._read(viewer, stream, query)
        self._log_if_personal(viewer, page, account_number, endpoint)
        return page

    def meter(self, viewer: Principal, serial: str, query: HistoryQuery) -> HistoryPage:
        """A meter's events: commissioning, attachments, readings, faults, voids, verifications…"""
        return self._read(viewer, self._existing(ids.meter_id(serial), "meter", serial), query)

    def bill(self, viewer: Principal, period_id: UUID, bill_id: UUID, query: HistoryQuery) -> HistoryPage:
        """A bill's events: its billing period's opening, the season's day changes before the
        bill, and the bill's issue (``period_id``: the period that issued it)."""
        stream = self._existing(period_id, "bill", str(bill_id))
        return self._read(viewer, stream, query, bill_inclusion(stream, bill_id))

    def tariff(self, viewer: Principal, customer_class: str, scope: str, query: HistoryQuery) -> HistoryPage:
        """A tariff's events: its opening and every version published."""
        stream = self._existing(ids.tariff_id(customer_class, scope), "tariff", f"{customer_class} {scope}")
        return self._read(viewer, stream, query)

    def payment(self, viewer: Principal, payment_id: UUID, query: HistoryQuery, endpoint: str) -> HistoryPage:
        """A payment's events: its receipt and its reversal, if any."""
        stream = self._existing(payment_id, "payment", str(payment_id))
        page = self._read(viewer, stream, query)
        if page.shows_personal_data:
            received = stream.decode(stream.stored_after(0, 1)[0])
            assert isinstance(received, Payment.Received), "a payment's first event is its receipt"
            self._log_if_personal(viewer, page, received.account_number, endpoint)
        return page

    def valve(self, viewer: Principal, device_id: str, query: HistoryQuery) -> HistoryPage:
        """A room controller's events: its installation, each command's steps (requested,
        approved, superseded, sent, acknowledged or refused or timed out, confirmed) and reports."""
        return self._read(viewer, self._existing(room_controller_id(device_id), "room_controller", device_id), query)

    def _existing(self, aggregate_id: UUID, kind: str, key: str) -> StoredEventStream:
        stream = StoredEventStream(self.application, aggregate_id)
        if not stream.stored_after(0, 1):
            raise NotFoundError(f"no {kind} {key}", kind=kind, key=key)
        return stream

    def _read(
        self, viewer: Principal, stream: EventStream, query: HistoryQuery, include: Inclusion | None = None
    ) -> HistoryPage:
        viewer.require(Permission.READ_LEDGER)
        return read_history(stream, query, may_see_personal_data(viewer), include)

    def _log_if_personal(self, viewer: Principal, page: HistoryPage, account_number: str, endpoint: str) -> None:
        if viewer.role in LOGGED_ROLES and page.shows_personal_data:
            read = PersonalDataRead(self.clock(), viewer.name, viewer.role.value, account_number, endpoint)
            self.access_log.record(read)
