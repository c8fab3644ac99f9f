"""The HeatLedger application: households and meters, their commands, and reading ingestion.

Each use case checks the caller's permission, loads aggregates, calls one domain command and
saves. Aggregates that change together are saved in one atomic ``save()``.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache, wraps
from typing import Any, ClassVar, Concatenate, ParamSpec, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate, BaseAggregate, DomainEventProtocol, MutableOrImmutableAggregate
from eventsourcing.persistence import InfrastructureFactory, IntegrityError, JSONTranscoder, Recording, Transcoder

from application.authorization import Permission, Principal
from application.collector import collector_paused
from application.event_encoding import FastEncodingTranscoder
from application.ingestion import MAXIMUM_BATCH_SIZE, BatchReport, ReadingItem, judge_batch
from application.locks import CommandLocks, SharedExclusiveLock
from application.meter_loads import StoredMetersOf, load_meters, uncached
from application.reading_history import MeterHistory, StoredReadings
from application.transcodings import register_ledger_transcodings
from domain import ids
from domain.day_split import business_day
from domain.errors import ConflictError, InvalidInputError, NotFoundError
from domain.household import Household
from domain.meter import Meter
from domain.readings import ReadingValues
from domain.values import (
    AccuracyClass,
    Address,
    Areas,
    CommandContext,
    CustomerClass,
    FlowSensorSide,
    MeterKind,
    Position,
)
from domain.valve import RoomController
from domain.verification import TestPoint

# Saving a batch conflicts when another writer changed one of its meters; retry a few times.
MAXIMUM_SAVE_ATTEMPTS = 3
# Snapshots keep a long-lived meter fast to load (5,000 events ≈ 120 ms, a snapshot ≈ 3 ms).
METER_SNAPSHOT_INTERVAL = 200
# Meter ids remembered per serial: a batch names each meter twice (its lock, its load), and a uuid5
# costs about 6 µs; 100,000 entries hold a city's household meters in about 20 MB.
METER_IDS_REMEMBERED = 100_000

_meter_id = lru_cache(maxsize=METER_IDS_REMEMBERED)(ids.meter_id)

AggregateType = TypeVar("AggregateType", bound=Aggregate)
Parameters = ParamSpec("Parameters")
Result = TypeVar("Result")


def _locking(
    *keys: tuple[Callable[[str], UUID], str],
) -> Callable[
    [Callable[Concatenate[HeatLedger, Parameters], Result]], Callable[Concatenate[HeatLedger, Parameters], Result]
]:
    """Run a HeatLedger command beside others, alone on the aggregates it loads or saves: each
    ``(id_of, parameter)`` names one, its id ``id_of(<the parameter's value>)`` (application/locks.py).
    The command works on copies (``household``, ``meter``); the store's version check stays the
    guard across processes (a conflicting save raises, nothing of it is kept)."""

    def decorate(
        method: Callable[Concatenate[HeatLedger, Parameters], Result],
    ) -> Callable[Concatenate[HeatLedger, Parameters], Result]:
        signature = inspect.signature(method)

        @wraps(method)
        def locked(ledger: HeatLedger, /, *args: Parameters.args, **kwargs: Parameters.kwargs) -> Result:
            arguments = signature.bind(ledger, *args, **kwargs).arguments
            aggregate_ids = [id_of(arguments[name]) for id_of, name in keys]
            for attempt in range(1, MAXIMUM_SAVE_ATTEMPTS + 1):
                with ledger.locks.writing(aggregate_ids):
                    try:
                        return method(ledger, *args, **kwargs)
                    except IntegrityError:
                        # Another process saved one of them first: judge the command again on
                        # what it saved (evicted, so loaded afresh), a bounded number of times.
                        if attempt == MAXIMUM_SAVE_ATTEMPTS:
                            raise
                        ledger.evict_ids(aggregate_ids)
            raise AssertionError("unreachable: the loop returns or raises")

        return locked

    return decorate


def project_events(aggregate: Any, domain_events: Iterable[Any]) -> Any:
    """The library's ``project_aggregate`` without its assertion that each event satisfies the
    runtime-checkable ``CanMutateProtocol``: that ``isinstance`` walks the protocol's attributes
    per event, a fifth of loading a meter from the store. Every event the ledger stores mutates
    (one that did not would fail here with AttributeError instead of AssertionError)."""
    for domain_event in domain_events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


def utc_now() -> datetime:
    """The ledger's clock: an aware UTC datetime."""
    return datetime.now(UTC)


class HeatLedger(Application[UUID]):
    """The event-sourced ledger of households, meters and readings."""

    name = "heatledger"
    snapshotting_intervals: ClassVar[dict[type[MutableOrImmutableAggregate[Any]], int]] = {
        Meter: METER_SNAPSHOT_INTERVAL,
        # A controller reports every few minutes all season long (issue 14).
        RoomController: METER_SNAPSHOT_INTERVAL,
    }
    # A snapshot is taken of the aggregate rebuilt from the store: rebuilt as ``_load`` rebuilds.
    snapshotting_projectors: ClassVar[dict[type[MutableOrImmutableAggregate[Any]], Any]] = {
        Meter: project_events,
        RoomController: project_events,
    }

    def __init__(
        self,
        env: dict[str, str] | None = None,
        clock: Callable[[], datetime] = utc_now,
        stored_readings: StoredReadings | None = None,
        exclusive_commands: bool = False,
        stored_meters_of: StoredMetersOf | None = None,
    ) -> None:
        """``stored_readings`` is the read model late readings older than a meter's window are
        judged against; without it they are judged against the meter's stored events (slower).
        ``exclusive_commands`` runs every command alone in the process, as before issue 16.
        ``stored_meters_of`` reads many meters' snapshots and events at once: a batch's meters the
        cache lacks are then loaded in two reads (application/meter_loads.py), not two per meter."""
        super().__init__(env)
        self.stored_meters_of = stored_meters_of
        self.clock = clock
        self._stored_readings = stored_readings
        self._after_save: list[Callable[[], None]] = []
        self._deferral = _HookDeferral()
        # Batches judge the cached meters themselves, not copies (copying a meter costs more than
        # judging its reading), as valve reports judge controllers and billing runs periods. So no
        # two threads may work on one cached aggregate: every command runs shared and locks the ids
        # it loads or saves (application/locks.py), changing copies where it can; the few that
        # change cached periods (billing runs, tariff corrections' chunks) run exclusive. None ever
        # sees, saves or (on a failed save) loses another command's unsaved changes. Across
        # processes the aggregate version check keeps writers honest.
        self.locks = CommandLocks(always_exclusive=exclusive_commands)
        self._command_lock = self.locks.process

    def construct_transcoder(self) -> Transcoder:
        """The ledger's JSON transcoder (same stored form as the library's, faster decoding and
        encoding: application/event_encoding.py), unless the environment names another with
        TRANSCODER_TOPIC."""
        if self.factory.env.get(InfrastructureFactory.TRANSCODER_TOPIC):
            return super().construct_transcoder()
        transcoder = FastEncodingTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_ledger_transcodings(transcoder)

    def add_after_save_hook(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` after every successful save (the embedded default catches up projections)."""
        self._after_save.append(hook)

    @contextmanager
    def after_save_hooks_deferred(self) -> Iterator[None]:
        """Saves this thread makes inside the block skip the after-save hooks, which run once when
        the block ends (also when it raises) if it saved anything. For a command of many saves (a
        billing run: one save a chunk) that needs its read models caught up when it ends, not after
        each save: one catch-up of all its events costs less than one a chunk (commits, batches).
        Other threads' saves meanwhile run the hooks as always."""
        if self._deferral.active:  # nested: the outermost block runs the hooks
            yield
            return
        self._deferral.active, self._deferral.saved = True, False
        try:
            yield
        finally:
            saved = self._deferral.saved
            self._deferral.active = self._deferral.saved = False
            if saved:
                self._run_after_save_hooks()

    def _run_after_save_hooks(self) -> None:
        for hook in self._after_save:
            hook()

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """The library's ``Application.save`` (events collected, recorded, snapshots taken, the
        recordings notified), with the events of aggregates collected without the library's
        runtime protocol checks, then the after-save hooks."""
        processing_event: ProcessingEvent[UUID] = _CollectedEvents()
        processing_event.collect_events(*objs, **kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # deprecated in the library, still called by its save
        if self._deferral.active:
            self._deferral.saved = True
        else:
            self._run_after_save_hooks()
        return recordings

    # -- loading ------------------------------------------------------------------------------

    def household(self, account_number: str) -> Household:
        """The household with this account number (a copy), or NotFoundError."""
        household_id = ids.household_id(account_number)
        with self.locks.writing([household_id]):
            return self._load(Household, household_id, "household", account_number)

    def meter(self, serial: str) -> Meter:
        """The meter with this serial number (a copy), or NotFoundError."""
        meter_id = ids.meter_id(serial)
        with self.locks.writing([meter_id]):
            return self._load(Meter, meter_id, "meter", serial)

    @property
    def command_lock(self) -> SharedExclusiveLock:
        """The process's command lock: ``with ledger.command_lock:`` runs a command alone in the
        process (services beside the ledger use it too); converted commands use ``locks.writing``."""
        return self._command_lock

    def _load(
        self, kind: type[AggregateType], aggregate_id: UUID, noun: str, key: str, copy: bool = True
    ) -> AggregateType:
        """Load an aggregate. ``copy=False`` hands out the cached object itself: only for callers
        that evict it when anything goes wrong before it is saved (batch ingestion does)."""
        try:
            aggregate: Aggregate = self.repository.get(
                aggregate_id, deepcopy_from_cache=copy, projector_func=project_events
            )
        except AggregateNotFoundError:
            raise NotFoundError(f"no {noun} {key}", kind=noun, key=key) from None
        assert isinstance(aggregate, kind), f"{aggregate_id} is not a {kind.__name__}"
        return aggregate

    def _save_new(self, aggregate: Aggregate, noun: str, key: str) -> None:
        try:
            self.save(aggregate)
        except IntegrityError:
            raise ConflictError(f"the {noun} {key} already exists", kind=noun, key=key) from None

    @staticmethod
    def _context(principal: Principal, reason: str, correlation_id: UUID | None) -> CommandContext:
        return CommandContext(principal.name, reason.strip(), correlation_id or uuid4())

    # -- households ---------------------------------------------------------------------------

    @_locking((ids.household_id, "account_number"))
    def register_household(
        self,
        principal: Principal,
        account_number: str,
        address: Address,
        areas: Areas,
        customer_class: CustomerClass,
        position: Position,
        registered_on: date,
        reason: str = "registration",
        correlation_id: UUID | None = None,
    ) -> UUID:
        """Open a household account; ConflictError if the account number is taken."""
        principal.require(Permission.MANAGE_HOUSEHOLDS)
        context = self._context(principal, reason, correlation_id)
        household = Household.register(account_number, address, areas, customer_class, position, registered_on, context)
        self._save_new(household, "household", account_number)
        return household.id

    @_locking((ids.household_id, "account_number"))
    def correct_area(
        self,
        principal: Principal,
        account_number: str,
        areas: Areas,
        effective_on: date,
        reason: str,
        correlation_id: UUID | None = None,
    ) -> None:
        """Record a corrected connected and heated area, with who and why."""
        principal.require(Permission.MANAGE_HOUSEHOLDS)
        require_reason(reason)
        household = self.household(account_number)
        household.correct_area(areas, effective_on, self._context(principal, reason, correlation_id))
        self.save(household)

    @_locking((ids.household_id, "account_number"))
    def suspend_heating(
        self,
        principal: Principal,
        account_number: str,
        effective_on: date,
        reason: str,
        correlation_id: UUID | None = None,
    ) -> None:
        """报停: the household stops taking heat from ``effective_on``."""
        principal.require(Permission.MANAGE_HOUSEHOLDS)
        require_reason(reason)
        household = self.household(account_number)
        household.suspend_heating(effective_on, self._context(principal, reason, correlation_id))
        self.save(household)

    @_locking((ids.household_id, "account_number"))
    def resume_heating(
        self,
        principal: Principal,
        account_number: str,
        effective_on: date,
        reason: str,
        correlation_id: UUID | None = None,
    ) -> None:
        """The household takes heat again from ``effective_on``."""
        principal.require(Permission.MANAGE_HOUSEHOLDS)
        require_reason(reason)
        household = self.household(account_number)
        household.resume_heating(effective_on, self._context(principal, reason, correlation_id))
        self.save(household)

    @_locking((ids.household_id, "account_number"))
    def change_owner(
        self,
        principal: Principal,
        account_number: str,
        effective_on: date,
        reason: str,
        correlation_id: UUID | None = None,
    ) -> None:
        """过户: the flat passes to a new holder from ``effective_on``; the season's bills split there."""
        principal.require(Permission.MANAGE_HOUSEHOLDS)
        require_reason(reason)
        household = self.household(account_number)
        household.change_owner(effective_on, self._context(principal, reason, correlation_id))
        self.save(household)

    @_locking((ids.household_id, "account_number"))
    def deregister_household(
        self,
        principal: Principal,
        account_number: str,
        effective_on: date,
        reason: str,
        correlation_id: UUID | None = None,
    ) -> None:
        """销户/拆网: the household leaves the network; ``effective_on`` is its first day neither
        supplied nor billed, at most a year after today's business day (Asia/Shanghai)."""
        principal.require(Permission.MANAGE_HOUSEHOLDS)
        require_reason(reason)
        household = self.household(account_number)
        context = self._context(principal, reason, correlation_id)
        household.deregister(effective_on, context, today=business_day(self.clock()))
        self.save(household)

    # -- meters -------------------------------------------------------------------------------

    @_locking((ids.meter_id, "serial"))
    def commission_meter(
        self,
        principal: Principal,
        serial: str,
        maker: str,
        model: str,
        accuracy_class: AccuracyClass,
        flow_sensor_side: FlowSensorSide,
        kind: MeterKind,
        commissioned_at: datetime,
        community: str = "",
        building: str = "",
        permanent_flow_m3_h: Decimal | None = None,
        energy_register_width_gj: Decimal | None = None,
        volume_register_width_m3: Decimal | None = None,
        reason: str = "commissioning",
        correlation_id: UUID | None = None,
        rated: RatedLimitsDeclared | None = None,
    ) -> UUID:
        """Put a meter into service; ConflictError if the serial is taken. ``rated`` holds the
        meter model's limits beside q_p (each not given takes its kind's default)."""
        principal.require(Permission.MANAGE_METERS)
        extra: dict[str, Any] = dict(vars(rated)) if rated is not None else {}
        if permanent_flow_m3_h is not None:
            extra["permanent_flow_m3_h"] = permanent_flow_m3_h
        meter = Meter.commission(
            serial,
            maker,
            model,
            accuracy_class,
            flow_sensor_side,
            kind,
            commissioned_at,
            self._context(principal, reason, correlation_id),
            community=community,
            building=building,
            energy_register_width_gj=energy_register_width_gj,
            volume_register_width_m3=volume_register_width_m3,
            **extra,
        )
        self._save_new(meter, "meter", serial)
        return meter.id

    @_locking((ids.household_id, "account_number"), (ids.meter_id, "serial"))
    def attach_meter(
        self,
        principal: Principal,
        account_number: str,
        serial: str,
        attached_at: datetime,
        reason: str = "installation",
        correlation_id: UUID | None = None,
    ) -> None:
        """Attach a household meter to a household; both aggregates are saved together."""
        principal.require(Permission.MANAGE_METERS)
        household, meter = self.household(account_number), self.meter(serial)
        context = self._context(principal, reason, correlation_id)
        meter.attach_to(household.id, attached_at, context)
        household.attach_meter(meter.id, meter.serial, attached_at, context)
        self.save(household, meter)

    def detach_meter(
        self,
        principal: Principal,
        serial: str,
        detached_at: datetime,
        reason: str,
        correlation_id: UUID | None = None,
    ) -> None:
        """Detach a meter from its household; both aggregates are saved together."""
        principal.require(Permission.MANAGE_METERS)
        require_reason(reason)
        # The household is known once the meter is loaded: both are locked before either changes.
        with self.locks.writing_found([ids.meter_id(serial)], lambda: self._household_of(serial)):
            meter = self.meter(serial)
            context = self._context(principal, reason, correlation_id)
            household_id = meter.detach(detached_at, context)
            household = self._load(Household, household_id, "household", str(household_id))
            household.detach_meter(meter.id, detached_at, context)
            self.save(household, meter)

    def _household_of(self, serial: str) -> list[UUID]:
        household_id = self.meter(serial).household_id
        return [household_id] if household_id is not None else []

    # -- meter lifecycle ----------------------------------------------------------------------

    @_locking((ids.household_id, "account_number"), (ids.meter_id, "old_serial"), (ids.meter_id, "new_serial"))
    def replace_meter(
        self,
        principal: Principal,
        account_number: str,
        old_serial: str,
        new_serial: str,
        final_reading: ReadingValues,
        initial_reading: ReadingValues,
        reason: str,
        correlation_id: UUID | None = None,
    ) -> None:
        """Swap a household's meter: the old meter's final reading and the new meter's initial
        reading, both at the swap moment, are saved with the detachment and the attachment in one
        atomic save, so the household's consumption continues without a gap or a double count."""
        principal.require(Permission.MANAGE_METERS)
        require_reason(reason)
        replaced_at = final_reading.measured_at
        if initial_reading.measured_at != replaced_at:
            raise InvalidInputError(
                "the final and the initial reading must be taken at the same moment",
                message_key="swap_readings_apart",
                field="initial_reading",
            )
        household, old, new = self.household(account_number), self.meter(old_serial), self.meter(new_serial)
        if old.household_id != household.id:
            raise ConflictError(
                "the meter is not attached to this household",
                message_key="meter_not_attached_here",
                meter_serial=old_serial,
            )
        context = self._context(principal, reason, correlation_id)
        swap_batch = context.correlation_id
        self._record_swap_reading(old, final_reading, swap_batch, principal, reason)
        household.detach_meter(old.id, replaced_at, context)
        old.detach(replaced_at, context)
        new.attach_to(household.id, replaced_at, context)
        household.attach_meter(new.id, new.serial, replaced_at, context)
        self._record_swap_reading(new, initial_reading, swap_batch, principal, reason)
        self.save(household, old, new)

    def _record_swap_reading(
        self, meter: Meter, values: ReadingValues, batch_id: UUID, principal: Principal, reason: str
    ) -> None:
        # A swap reading that breaks a rule fails the whole swap (nothing is saved).
        meter.record_reading(values, self.clock(), batch_id, principal.name, reason, self._history_of(meter))

    @_locking((ids.meter_id, "serial"))
    def decommission_meter(
        self,
        principal: Principal,
        serial: str,
        decommissioned_at: datetime,
        reason: str,
        correlation_id: UUID | None = None,
    ) -> None:
        """Take a detached meter out of service; later readings of it are rejected."""
        principal.require(Permission.MANAGE_METERS)
        require_reason(reason)
        meter = self.meter(serial)
        meter.decommission(decommissioned_at, self._context(principal, reason, correlation_id))
        self.save(meter)

    @_locking((ids.meter_id, "serial"))
    def record_verification(
        self,
        principal: Principal,
        serial: str,
        verified_on: date,
        certificate: str,
        points: list[TestPoint],
        reason: str = "verification",
        correlation_id: UUID | None = None,
    ) -> bool:
        """Record a verification's test points (JJG 225); returns whether the meter passed."""
        principal.require(Permission.MANAGE_METERS)
        meter = self.meter(serial)
        passed = meter.record_verification(
            verified_on, certificate, points, self._context(principal, reason, correlation_id)
        )
        self.save(meter)
        return passed

    @_locking((ids.meter_id, "serial"))
    def estimate_faulty_interval(
        self,
        principal: Principal,
        serial: str,
        interval_start: datetime,
        estimated_energy_gj: Decimal,
        method: str,
        reason: str = "faulty interval estimate",
        correlation_id: UUID | None = None,
    ) -> bool:
        """Record the estimated energy of a faulty interval; False when it already had this estimate."""
        principal.require(Permission.MANAGE_METERS)
        meter = self.meter(serial)
        recorded = meter.estimate_faulty_interval(
            interval_start, estimated_energy_gj, method, self._context(principal, reason, correlation_id)
        )
        if recorded:
            self.save(meter)
        return recorded

    # -- corrections --------------------------------------------------------------------------

    @_locking((ids.meter_id, "serial"))
    def void_reading(
        self, principal: Principal, serial: str, measured_at: datetime, reason: str, correlation_id: UUID | None = None
    ) -> None:
        """Withdraw a reading with a reason: a compensating event, never an edit."""
        principal.require(Permission.MANAGE_METERS)
        require_reason(reason)
        meter = self.meter(serial)
        meter.void_reading(measured_at, self._context(principal, reason, correlation_id))
        self.save(meter)

    @_locking((ids.meter_id, "serial"))
    def correct_reading(
        self,
        principal: Principal,
        serial: str,
        measured_at: datetime,
        corrected: ReadingValues,
        reason: str,
        correlation_id: UUID | None = None,
    ) -> None:
        """Replace a reading by corrected values: the original is withdrawn and the correction
        recorded in one atomic save; if the correction breaks a reading rule, nothing changes."""
        principal.require(Permission.MANAGE_METERS)
        require_reason(reason)
        meter = self.meter(serial)
        context = self._context(principal, reason, correlation_id)
        meter.void_reading(measured_at, context)
        history = self._history_of(meter)
        meter.record_reading(corrected, self.clock(), context.correlation_id, principal.name, reason, history)
        self.save(meter)

    # -- readings -----------------------------------------------------------------------------

    def record_readings(
        self,
        principal: Principal,
        items: Sequence[ReadingItem],
        reason: str = "reading upload",
        batch_id: UUID | None = None,
    ) -> BatchReport:
        """Judge every reading; save all accepted ones in one atomic save, or none.

        A save that conflicts with another writer is retried from fresh state, a bounded number
        of times, so the per-item outcomes always describe what was saved.
        """
        principal.require(Permission.SUBMIT_READINGS)
        if len(items) > MAXIMUM_BATCH_SIZE:
            raise InvalidInputError(
                f"a batch holds at most {MAXIMUM_BATCH_SIZE} readings",
                message_key="batch_too_large",
                limit=MAXIMUM_BATCH_SIZE,
                size=len(items),
            )
        batch = batch_id or uuid4()
        # Beside other commands, alone on this batch's meters (judged in the cache itself).
        meter_ids = list({_meter_id(item.meter_serial): None for item in items})
        with self.locks.writing(meter_ids):
            for attempt in range(1, MAXIMUM_SAVE_ATTEMPTS + 1):
                lookup = _MeterLookup(self._find_meter, self._history_of)
                try:
                    # Thousands of events made, encoded and inserted, no cycles among them: the
                    # collector would walk every cached meter a few times (application/collector.py).
                    # One pause over the judging and the save: resumed in between, its first run
                    # walked every object the judging had made (a twelfth of the batch's CPU).
                    with collector_paused():
                        self._load_uncached_meters(meter_ids)
                        outcomes, changed = judge_batch(
                            items, lookup, self.clock(), batch, principal.name, reason, lookup.history
                        )
                        if changed:
                            self.save(*changed)
                except IntegrityError:
                    self._evict(lookup.loaded())
                    if attempt == MAXIMUM_SAVE_ATTEMPTS:
                        raise ConflictError(
                            "the meters kept changing while the batch was saved; send it again",
                            message_key="batch_contended",
                        ) from None
                    continue
                except BaseException:
                    self._evict(lookup.loaded())
                    raise
                return BatchReport(batch, outcomes)
            raise AssertionError("unreachable: the loop returns or raises")

    def _load_uncached_meters(self, meter_ids: Sequence[UUID]) -> None:
        """Put the meters the cache lacks into it with one read of the stores, when the ledger
        can read many at once (then ``_find_meter`` finds each in the cache)."""
        cache = self.repository.cache
        if self.stored_meters_of is None or cache is None:
            return
        missing = uncached(cache, meter_ids)
        if missing:
            # The cached meters themselves are judged (``_find_meter``): a failed batch evicts them.
            load_meters(self.mapper, cache, self.stored_meters_of, missing)

    def _find_meter(self, serial: str) -> Meter | None:
        # The cached meter itself, not a copy: copying a meter with its window of readings costs
        # more than judging the reading. Every path out of the batch without a save evicts it.
        try:
            return self._load(Meter, _meter_id(serial), "meter", serial, copy=False)
        except NotFoundError:
            return None

    def _history_of(self, meter: Meter) -> MeterHistory:
        """The readings of ``meter`` beyond its window, for this command (see ``MeterHistory``)."""
        return MeterHistory(meter, self._stored_readings, self._saved_events)

    def _saved_events(self, aggregate_id: UUID, after_version: int, up_to_version: int) -> list[Any]:
        if up_to_version <= after_version:
            return []
        return list(self.events.get(aggregate_id, gt=after_version, lte=up_to_version))

    def load_or_none(self, kind: type[AggregateType], aggregate_id: UUID) -> AggregateType | None:
        """The aggregate with this id (the cached object, not a copy), or None. For services that
        evict what they loaded when they do not save it (see ``evict``)."""
        try:
            return self._load(kind, aggregate_id, kind.__name__, str(aggregate_id), copy=False)
        except NotFoundError:
            return None

    def evict(self, aggregates: Sequence[Aggregate]) -> None:
        """Drop aggregates from the cache, so their unsaved changes are forgotten."""
        self._evict(aggregates)

    def _evict(self, aggregates: Sequence[Aggregate]) -> None:
        self.evict_ids([aggregate.id for aggregate in aggregates])

    def evict_ids(self, aggregate_ids: Sequence[UUID]) -> None:
        """Drop these ids' aggregates from the cache: the next load reads them from the store."""
        cache = self.repository.cache
        if cache is None:
            return
        for aggregate_id in aggregate_ids:
            with suppress(KeyError):
                cache.get(aggregate_id, evict=True)

    def copy_or_none(self, kind: type[AggregateType], aggregate_id: UUID) -> AggregateType | None:
        """A copy of the aggregate with this id, or None: for commands that run beside others
        (the caller holds the id's lock, ``locks.writing``); a failed save leaves the cache as it was."""
        try:
            return self._load(kind, aggregate_id, kind.__name__, str(aggregate_id))
        except NotFoundError:
            return None


class _CollectedEvents(ProcessingEvent[UUID]):
    """The library's processing event, collecting an aggregate's pending events without its two
    runtime-checkable protocol checks (``isinstance`` against a Protocol walks the protocol's
    attributes: about 10 µs an aggregate, a fifth of a second for ten batches of 2,000 meters).
    An aggregate is never a domain event, and every aggregate collects its events."""

    def collect_events(
        self, *objs: MutableOrImmutableAggregate[UUID] | DomainEventProtocol[UUID] | None, **kwargs: Any
    ) -> None:
        for obj in objs:  # in the order given, as the library's
            if isinstance(obj, BaseAggregate):
                self.events.extend(obj.collect_events())
                self.aggregates[obj.id] = obj
            else:
                super().collect_events(obj)
        self.saved_kwargs.update(kwargs)


class _MeterLookup:
    """Loads each meter of a batch once, so its readings are judged against each other, and
    builds each meter's history beyond its window once, so the store is read once per batch."""

    def __init__(self, find: Callable[[str], Meter | None], history_of: Callable[[Meter], MeterHistory]) -> None:
        self._find = find
        self._history_of = history_of
        self._meters: dict[str, Meter | None] = {}
        self._histories: dict[UUID, MeterHistory] = {}

    def history(self, meter: Meter) -> MeterHistory:
        """The history of a meter of this batch (built on first use)."""
        if meter.id not in self._histories:
            self._histories[meter.id] = self._history_of(meter)
        return self._histories[meter.id]

    def __call__(self, serial: str) -> Meter | None:
        if serial not in self._meters:
            self._meters[serial] = self._find(serial)
        return self._meters[serial]

    def loaded(self) -> list[Meter]:
        return [meter for meter in self._meters.values() if meter is not None]


@dataclass(frozen=True)
class RatedLimitsDeclared:
    """The rated limits a clerk reads off a meter at commissioning, beside q_p (None: the default)."""

    maximum_flow_m3_h: Decimal | None = None
    minimum_temperature_c: Decimal | None = None
    maximum_temperature_c: Decimal | None = None
    minimum_temperature_difference_k: Decimal | None = None


def require_reason(reason: str) -> None:
    """InvalidInputError unless ``reason`` says something: every correction carries why."""
    if not reason.strip():
        raise InvalidInputError("a reason is required for this change", message_key="reason_required", field="reason")


class _HookDeferral(threading.local):
    """Per thread: whether its saves defer the after-save hooks, and whether one saved meanwhile."""

    active: bool = False
    saved: bool = False
