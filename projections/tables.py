"""The read-model tables. Created by alembic migrations; the projection fills them from events."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    false,
)

from projections.types import ScaledDecimal, UtcDateTime

ENERGY_SCALE = 9  # 1 J
VOLUME_SCALE = 9
AREA_SCALE = 2
INSTANT_SCALE = 3  # temperatures, flow rates, power, hours, percentages
MONEY_SCALE = 2  # 1 fen
COEFFICIENT_SCALE = 3  # position coefficients

metadata = MetaData()

projection_tracking = Table(
    "projection_tracking",
    metadata,
    Column("projection_name", String(64), primary_key=True),
    Column("application_name", String(64), primary_key=True),
    Column("notification_id", BigInteger, nullable=False),
)

households = Table(
    "households",
    metadata,
    Column("household_id", Uuid, primary_key=True),
    Column("account_number", String(64), nullable=False, unique=True),
    Column("community", String(128), nullable=False),
    Column("building", String(64), nullable=False),
    Column("entrance", String(64), nullable=False),
    Column("floor", Integer, nullable=False),
    Column("flat", String(64), nullable=False),
    Column("connected_area_m2", ScaledDecimal(AREA_SCALE), nullable=False),
    Column("heated_area_m2", ScaledDecimal(AREA_SCALE), nullable=False),
    Column("customer_class", String(32), nullable=False),
    Column("vertical_position", String(16), nullable=False),
    Column("horizontal_position", String(16), nullable=False),
    Column("registered_on", Date, nullable=False),
    Column("heating_suspended", Boolean, nullable=False),
    Column("suspended_since", Date, nullable=True),
    # 销户/拆网: the first day neither supplied nor billed; None while the household is supplied.
    Column("deregistered_on", Date, nullable=True),
    Column("version", Integer, nullable=False),
    Index("ix_households_place", "community", "building"),
)

meters = Table(
    "meters",
    metadata,
    Column("meter_id", Uuid, primary_key=True),
    Column("serial", String(64), nullable=False, unique=True),
    Column("maker", String(128), nullable=False),
    Column("model", String(128), nullable=False),
    Column("accuracy_class", String(4), nullable=False),
    Column("flow_sensor_side", String(16), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("community", String(128), nullable=False),
    Column("building", String(64), nullable=False),
    Column("commissioned_at", UtcDateTime, nullable=False),
    Column("household_id", Uuid, nullable=True, index=True),
    Column("readings_count", Integer, nullable=False),
    Column("last_measured_at", UtcDateTime, nullable=True),
    Column("last_energy_gj", ScaledDecimal(ENERGY_SCALE), nullable=True),
    Column("error_flags", Integer, nullable=False, server_default="0"),
    Column("fault_since", UtcDateTime, nullable=True),
    Column("decommissioned_at", UtcDateTime, nullable=True),
    Column("last_verified_on", Date, nullable=True),
    Column("last_verification_passed", Boolean, nullable=True),
    Column("version", Integer, nullable=False),
    # The meter model's rated limits (domain/rated_limits.py): q_p, q_s (None: flow unchecked),
    # θ_min, θ_max, Δθ_min. None on meters projected before revision 0017 until a rebuild.
    Column("permanent_flow_m3_h", ScaledDecimal(INSTANT_SCALE), nullable=True),
    Column("maximum_flow_m3_h", ScaledDecimal(INSTANT_SCALE), nullable=True),
    Column("minimum_temperature_c", ScaledDecimal(INSTANT_SCALE), nullable=True),
    Column("maximum_temperature_c", ScaledDecimal(INSTANT_SCALE), nullable=True),
    Column("minimum_temperature_difference_k", ScaledDecimal(INSTANT_SCALE), nullable=True),
)

meter_readings = Table(
    "meter_readings",
    metadata,
    Column("meter_id", Uuid, primary_key=True),
    Column("measured_at", UtcDateTime, primary_key=True),
    Column("energy_gj", ScaledDecimal(ENERGY_SCALE), nullable=False),
    Column("volume_m3", ScaledDecimal(VOLUME_SCALE), nullable=True),
    Column("operating_hours", ScaledDecimal(INSTANT_SCALE), nullable=True),
    Column("flow_temperature_c", ScaledDecimal(INSTANT_SCALE), nullable=True),
    Column("return_temperature_c", ScaledDecimal(INSTANT_SCALE), nullable=True),
    Column("flow_rate_m3_h", ScaledDecimal(INSTANT_SCALE), nullable=True),
    Column("power_kw", ScaledDecimal(INSTANT_SCALE), nullable=True),
    Column("error_flags", Integer, nullable=False),
    Column("source", String(16), nullable=False),
    Column("faulty", Boolean, nullable=False, server_default=false()),
    Column("batch_id", Uuid, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    # What a late reading older than the meter's window is judged against (application/reading_history.py):
    # the registers unwrapped across rollovers and the values' fingerprint. None on rows projected
    # before revision 0015 until the read models are rebuilt.
    Column("energy_unwrapped_gj", ScaledDecimal(ENERGY_SCALE), nullable=True),
    Column("volume_unwrapped_m3", ScaledDecimal(VOLUME_SCALE), nullable=True),
    Column("fingerprint", String(32), nullable=True),
    # The rated limits the reading's instant values break, rule names joined by commas; None for none.
    Column("limit_breaches", String(200), nullable=True),
)

meter_intervals = Table(
    "meter_intervals",
    metadata,
    Column("meter_id", Uuid, primary_key=True),
    Column("start_at", UtcDateTime, primary_key=True),
    Column("end_at", UtcDateTime, nullable=False),
    Column("energy_gj", ScaledDecimal(ENERGY_SCALE), nullable=False),
    Column("volume_m3", ScaledDecimal(VOLUME_SCALE), nullable=True),
    Column("household_id", Uuid, nullable=True),
    Column("expected_energy_gj", ScaledDecimal(ENERGY_SCALE), nullable=True),
    Column("deviation_percent", ScaledDecimal(INSTANT_SCALE), nullable=True),
    Column("permissible_error_percent", ScaledDecimal(INSTANT_SCALE), nullable=True),
    Column("plausible", Boolean, nullable=True),
    Column("quality", String(16), nullable=False, server_default="measured"),
    # The rated limits the interval breaks, rule names joined by commas; None for none.
    Column("limit_breaches", String(200), nullable=True),
)
# The implausible intervals of a household (a few a season, if any): a settlement's chunk finds
# them by household instead of joining all its 37,000 day rows to their intervals (issue 17).
Index(
    "ix_meter_intervals_implausible",
    meter_intervals.c.household_id,
    postgresql_where=meter_intervals.c.plausible.is_(False),
    sqlite_where=meter_intervals.c.plausible.is_(False),
)

daily_consumption = Table(
    "daily_consumption",
    metadata,
    Column("meter_id", Uuid, primary_key=True),
    Column("interval_start_at", UtcDateTime, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("energy_gj", ScaledDecimal(ENERGY_SCALE), nullable=False),
    # None when the meter reports no volume register (not zero flow).
    Column("volume_m3", ScaledDecimal(VOLUME_SCALE), nullable=True),
    Column("household_id", Uuid, nullable=True),
    Column("meter_kind", String(32), nullable=False),
    # measured, estimated or faulty: the quality of the interval the day's share came from.
    Column("quality", String(16), nullable=False, server_default="measured"),
    Column("community", String(128), nullable=False),
    Column("building", String(64), nullable=False),
    Index("ix_daily_household_day", "household_id", "day"),
    Index("ix_daily_place_day", "community", "building", "day"),
    Index("ix_daily_meter_day", "meter_id", "day"),
)

meter_verifications = Table(
    "meter_verifications",
    metadata,
    Column("meter_id", Uuid, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("verified_on", Date, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("certificate", String(128), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("points", Text, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("reason", Text, nullable=False),
)

# Readings withdrawn by clerks, with their original values: the history beside the current readings.
reading_corrections = Table(
    "reading_corrections",
    metadata,
    Column("meter_id", Uuid, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("measured_at", UtcDateTime, nullable=False),
    Column("voided_at", UtcDateTime, nullable=False),
    Column("energy_gj", ScaledDecimal(ENERGY_SCALE), nullable=True),
    Column("volume_m3", ScaledDecimal(VOLUME_SCALE), nullable=True),
    Column("source", String(16), nullable=True),
    Column("original_actor", String(128), nullable=True),
    Column("actor", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("correlation_id", Uuid, nullable=False),
)

# Estimated energy of faulty intervals, shared across their days like daily_consumption: what is
# billed for those days instead of the register difference.
faulty_interval_estimates = Table(
    "faulty_interval_estimates",
    metadata,
    Column("meter_id", Uuid, primary_key=True),
    Column("interval_start_at", UtcDateTime, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("estimated_energy_gj", ScaledDecimal(ENERGY_SCALE), nullable=False),
    Column("method", String(64), nullable=False),
    Column("household_id", Uuid, nullable=True, index=True),
)

# Clerks' decisions about intervals whose heat is far beyond the meter's MPE (domain/implausible_heat.py):
# the decision in force per interval. It applies while the interval exists with this end (a late
# reading that splits the interval makes new intervals, undecided).
implausible_heat_decisions = Table(
    "implausible_heat_decisions",
    metadata,
    Column("meter_id", Uuid, primary_key=True),
    Column("interval_start_at", UtcDateTime, primary_key=True),
    Column("interval_end_at", UtcDateTime, nullable=False),
    Column("decision", String(32), nullable=False),
    Column("estimated_energy_gj", ScaledDecimal(ENERGY_SCALE), nullable=True),
    Column("method", String(64), nullable=False),
    Column("decided_at", UtcDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("correlation_id", Uuid, nullable=False),
)

# Suspensions of heating (报停), one row per span. ``ended_on`` is the day heating was resumed,
# i.e. the FIRST day heated again (None while still suspended); the last suspended day is the day
# before it. A span resumed on the day it started suspended nothing and is not kept.
household_suspensions = Table(
    "household_suspensions",
    metadata,
    Column("household_id", Uuid, primary_key=True),
    Column("started_on", Date, primary_key=True),
    Column("ended_on", Date, nullable=True),
)

# Owner changes (过户): the day a new holder took over the flat.
household_owner_changes = Table(
    "household_owner_changes",
    metadata,
    Column("household_id", Uuid, primary_key=True),
    Column("effective_on", Date, primary_key=True),
    Column("actor", String(128), nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
)

tariffs = Table(
    "tariffs",
    metadata,
    Column("tariff_id", Uuid, primary_key=True),
    Column("customer_class", String(32), nullable=False),
    Column("scope", String(128), nullable=False),
)

# Published tariff versions; ``terms`` is the version's terms as JSON (Decimals written as strings,
# as ``TariffTerms.to_record`` gives them; ``TariffTerms.from_record`` reads it back).
tariff_versions = Table(
    "tariff_versions",
    metadata,
    Column("tariff_id", Uuid, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("customer_class", String(32), nullable=False),
    Column("scope", String(128), nullable=False),
    Column("effective_from", Date, nullable=False),
    Column("effective_until", Date, nullable=True),
    Column("document_number", String(64), nullable=False),
    Column("approved_on", Date, nullable=False),
    Column("terms", Text, nullable=False),
    Column("published_at", UtcDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("reason", Text, nullable=False),
)

billing_periods = Table(
    "billing_periods",
    metadata,
    Column("period_id", Uuid, primary_key=True),
    Column("household_id", Uuid, nullable=False, index=True),
    Column("account_number", String(64), nullable=False),
    Column("community", String(128), nullable=False),
    Column("building", String(64), nullable=False),
    Column("season_code", String(16), nullable=False),
    Column("first_day", Date, nullable=False),
    Column("last_day", Date, nullable=False),
    Column("tariff_scope", String(128), nullable=False),
    Column("tariff_version", Integer, nullable=False),
    Column("billed_area_m2", ScaledDecimal(AREA_SCALE), nullable=False),
    Column("position_coefficient", ScaledDecimal(COEFFICIENT_SCALE), nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
)

# Issued bills; ``lines`` is the bill's lines as JSON (amounts written as strings, or null).
bills = Table(
    "bills",
    metadata,
    Column("bill_id", Uuid, primary_key=True),
    Column("period_id", Uuid, nullable=False),
    Column("household_id", Uuid, nullable=False),
    Column("account_number", String(64), nullable=False),
    Column("community", String(128), nullable=False),
    Column("building", String(64), nullable=False),
    Column("season_code", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("label", String(32), nullable=False),
    Column("number", String(128), nullable=False, unique=True),
    Column("issued_on", Date, nullable=False),
    Column("first_day", Date, nullable=False),
    Column("last_day", Date, nullable=False),
    Column("amount_yuan", ScaledDecimal(MONEY_SCALE), nullable=False),
    Column("basis", String(32), nullable=False),
    Column("lines", Text, nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("correlation_id", Uuid, nullable=False),
    Index("ix_bills_household_season", "household_id", "season_code"),
    Index("ix_bills_community_season_kind", "community", "season_code", "kind"),
)

# What each household was charged (bills, refunds paid out to it) and has paid (payments net of
# reversals), over all seasons. ``last_bill_at`` is None for a household that paid before its first bill.
balances = Table(
    "balances",
    metadata,
    Column("household_id", Uuid, primary_key=True),
    Column("account_number", String(64), nullable=False),
    Column("community", String(128), nullable=False),
    Column("building", String(64), nullable=False),
    Column("charged_yuan", ScaledDecimal(MONEY_SCALE), nullable=False),
    Column("paid_yuan", ScaledDecimal(MONEY_SCALE), nullable=False, server_default="0"),
    Column("balance_yuan", ScaledDecimal(MONEY_SCALE), nullable=False),
    Column("last_bill_at", UtcDateTime, nullable=True),
)

# Payments received, one row each; a reversal marks the row (who, when, why-kind), never deletes it.
# ``actor`` is the clerk at the counter or the online provider's service account.
payments = Table(
    "payments",
    metadata,
    Column("payment_id", Uuid, primary_key=True),
    Column("household_id", Uuid, nullable=False, index=True),
    Column("account_number", String(64), nullable=False),
    Column("community", String(128), nullable=False),
    Column("building", String(64), nullable=False),
    Column("amount_yuan", ScaledDecimal(MONEY_SCALE), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("source", String(64), nullable=False),
    Column("reference", String(64), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("received_on", Date, nullable=False),
    Column("named_bill_id", Uuid, nullable=True),
    Column("actor", String(128), nullable=False),
    Column("reversed_on", Date, nullable=True),
    Column("reversal_kind", String(16), nullable=True),
    Column("reversed_by", String(128), nullable=True),
    Index("ix_payments_journal", "received_on", "channel", "actor"),
)

# Refund payouts and where each stands: requested, approved, rejected or paid.
refund_payouts = Table(
    "refund_payouts",
    metadata,
    Column("refund_id", Uuid, primary_key=True),
    Column("household_id", Uuid, nullable=False, index=True),
    Column("account_number", String(64), nullable=False),
    Column("request_number", String(64), nullable=False),
    Column("amount_yuan", ScaledDecimal(MONEY_SCALE), nullable=False),
    Column("status", String(16), nullable=False),
    Column("requested_on", Date, nullable=False),
    Column("requested_by", String(128), nullable=False),
    Column("approved_by", String(128), nullable=True),
    Column("paid_on", Date, nullable=True),
    Column("reference", String(64), nullable=True),
)

# Which credit settles which charge, by how much: recomputed from the household's whole history
# (domain.payment_allocation) after each batch that changed its money. ``sequence`` is the order in
# which the allocation was made. A credit is a payment or a settlement's credit note (a negative
# bill); a charge is a bill or a refund paid out.
payment_allocations = Table(
    "payment_allocations",
    metadata,
    Column("household_id", Uuid, primary_key=True),
    Column("sequence", Integer, primary_key=True),
    Column("credit_id", Uuid, nullable=False),
    Column("credit_kind", String(32), nullable=False),
    Column("charge_id", Uuid, nullable=False, index=True),
    Column("charge_kind", String(32), nullable=False),
    Column("amount_yuan", ScaledDecimal(MONEY_SCALE), nullable=False),
)

# The charges not yet settled in full (what arrears aging reads): ``kind`` is the bill's kind or
# ``refund_payout``; ``season_code`` is None for a refund payout.
open_charges = Table(
    "open_charges",
    metadata,
    Column("charge_id", Uuid, primary_key=True),
    Column("household_id", Uuid, nullable=False, index=True),
    Column("community", String(128), nullable=False),
    Column("building", String(64), nullable=False),
    Column("season_code", String(16), nullable=True),
    Column("kind", String(16), nullable=False),
    Column("issued_on", Date, nullable=False),
    Column("due_on", Date, nullable=False),
    Column("amount_yuan", ScaledDecimal(MONEY_SCALE), nullable=False),
    Column("open_yuan", ScaledDecimal(MONEY_SCALE), nullable=False),
    Index("ix_open_charges_place_due", "community", "building", "due_on"),
)

# Credit a household has that no charge has used yet (carried to the next season); a household
# without credit has no row.
household_credits = Table(
    "household_credits",
    metadata,
    Column("household_id", Uuid, primary_key=True),
    Column("unallocated_yuan", ScaledDecimal(MONEY_SCALE), nullable=False),
)

# The tables the ledger projection fills from Tariff and BillingPeriod events and from suspensions
# and owner changes (a scenario without billing leaves them empty).
BILLING_TABLES = (
    household_suspensions,
    household_owner_changes,
    tariffs,
    tariff_versions,
    billing_periods,
    bills,
    balances,
)

# The tables the ledger projection fills from Payment and RefundPayout events and from the
# allocation of every household's credits to its charges.
PAYMENT_TABLES = (
    payments,
    refund_payouts,
    payment_allocations,
    open_charges,
    household_credits,
)

# Arrears flags for valve restriction: raised, approved by a second person, or withdrawn.
arrears_flags = Table(
    "arrears_flags",
    metadata,
    Column("flag_id", Uuid, primary_key=True),
    Column("household_id", Uuid, nullable=False, index=True),
    Column("account_number", String(64), nullable=False),
    Column("community", String(128), nullable=False),
    Column("building", String(64), nullable=False),
    Column("season_code", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("amount_yuan", ScaledDecimal(MONEY_SCALE), nullable=False),
    Column("days_past_due", Integer, nullable=False),
    Column("raised_by", String(128), nullable=False),
    Column("approved_by", String(128), nullable=True),
    Column("withdrawn_by", String(128), nullable=True),
    Column("withdrawal_kind", String(32), nullable=True),
    Column("raised_at", UtcDateTime, nullable=False),
    Column("decided_at", UtcDateTime, nullable=True),
    # 1 when first raised; each raise of the withdrawn flag later in its season adds one.
    Column("times_raised", Integer, nullable=False),
    Index("ix_arrears_flags_status_place", "status", "community", "building"),
)

# What protects a household from an arrears flag: marked vulnerable, or disputes open. A household
# that was never marked nor disputed has no row.
household_protections = Table(
    "household_protections",
    metadata,
    Column("household_id", Uuid, primary_key=True),
    Column("vulnerable", Boolean, nullable=False),
    Column("open_disputes", Integer, nullable=False),
)

# The tables the ledger projection fills from ArrearsFlag events and the protections of households.
ARREARS_TABLES = (
    arrears_flags,
    household_protections,
)

# -- disputes (domain/dispute.py, projections/dispute_handlers.py) ---------------------------------

# The amount each open dispute holds on its household, from the Household's DisputeOpened and
# DisputeClosed events (so a view of the household's events alone knows it). An old dispute flag
# without an amount has no row: household_protections.open_disputes counts it, and it holds
# everything past due.
household_disputed_amounts = Table(
    "household_disputed_amounts",
    metadata,
    Column("dispute_id", Uuid, primary_key=True),
    Column("household_id", Uuid, nullable=False, index=True),
    Column("disputed_yuan", ScaledDecimal(MONEY_SCALE), nullable=False),
)

# Every dispute as it stands, from the Dispute's events. ``closed_on``/``days_open`` are set when it
# is resolved, rejected or withdrawn (an open dispute's age is counted to the day asked).
disputes = Table(
    "disputes",
    metadata,
    Column("dispute_id", Uuid, primary_key=True),
    Column("reference", String(32), nullable=False),
    Column("household_id", Uuid, nullable=False, index=True),
    Column("account_number", String(64), nullable=False),
    Column("community", String(128), nullable=False),
    Column("building", String(64), nullable=False),
    Column("subject_kind", String(16), nullable=False),
    Column("season_code", String(16), nullable=False),
    Column("bill_id", Uuid, nullable=True),
    Column("bill_number", String(128), nullable=False),
    Column("meter_serial", String(64), nullable=False),
    Column("measured_at", UtcDateTime, nullable=True),
    Column("payment_id", Uuid, nullable=True),
    Column("payment_reference", String(64), nullable=False),
    Column("category", String(32), nullable=False),
    Column("description", Text, nullable=False),
    Column("disputed_amount_yuan", ScaledDecimal(MONEY_SCALE), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("state", String(32), nullable=False),
    Column("opened_by", String(128), nullable=False),
    Column("opened_on", Date, nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("first_response_at", UtcDateTime, nullable=True),
    Column("last_step_at", UtcDateTime, nullable=False),
    Column("steps", Integer, nullable=False),
    Column("recompute_bill_id", Uuid, nullable=True),
    Column("recompute_bill_number", String(128), nullable=True),
    Column("recompute_difference_yuan", ScaledDecimal(MONEY_SCALE), nullable=True),
    Column("proposed_outcome", String(16), nullable=True),
    Column("proposed_amount_yuan", ScaledDecimal(MONEY_SCALE), nullable=True),
    Column("proposed_by", String(128), nullable=True),
    Column("proposed_at", UtcDateTime, nullable=True),
    Column("note_amount_yuan", ScaledDecimal(MONEY_SCALE), nullable=True),
    Column("note_bill_id", Uuid, nullable=True),
    Column("note_number", String(128), nullable=True),
    Column("approved_by", String(128), nullable=True),
    Column("closed_by", String(128), nullable=True),
    Column("closed_at", UtcDateTime, nullable=True),
    Column("closed_on", Date, nullable=True),
    Column("days_open", Integer, nullable=True),
    Column("closing_reason", Text, nullable=True),
    Column("version", Integer, nullable=False),
    Index("ix_disputes_state_category", "state", "category"),
    Index("ix_disputes_community_state", "community", "state"),
    Index("ix_disputes_opened_on", "opened_on"),
)

# Every event of every dispute, in order: its steps, each with when it was recorded, who and why,
# and its details as JSON.
dispute_steps = Table(
    "dispute_steps",
    metadata,
    Column("dispute_id", Uuid, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("correlation_id", Uuid, nullable=False),
    Column("details", Text, nullable=False),
)

DISPUTE_TABLES = (
    household_disputed_amounts,
    disputes,
    dispute_steps,
)

# -- substations (domain/substation.py, projections/analytics_handlers.py; issue 15) -------------

# Every configuration of every substation: from ``effective_on`` until the next one's day, its heat
# source and its primary-side meter (``meter_id`` is the meter's id by its serial).
substation_configurations = Table(
    "substation_configurations",
    metadata,
    Column("substation_id", Uuid, primary_key=True),
    Column("effective_on", Date, primary_key=True),
    Column("name", String(128), nullable=False),
    Column("heat_source", String(64), nullable=False),
    Column("meter_serial", String(64), nullable=False),
    Column("meter_id", Uuid, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("reason", Text, nullable=False),
)

# The places each configuration feeds: a whole community (``building`` empty) or one building.
substation_feeds = Table(
    "substation_feeds",
    metadata,
    Column("substation_id", Uuid, primary_key=True),
    Column("effective_on", Date, primary_key=True),
    Column("community", String(128), primary_key=True),
    Column("building", String(64), primary_key=True),
)

SUBSTATION_TABLES = (substation_configurations, substation_feeds)

# Tables the ledger projection owns: emptied on rebuild (the tracking row is reset separately).
LEDGER_TABLES = (
    implausible_heat_decisions,
    faulty_interval_estimates,
    daily_consumption,
    meter_intervals,
    meter_readings,
    meter_verifications,
    reading_corrections,
    meters,
    households,
    *BILLING_TABLES,
    *PAYMENT_TABLES,
    *ARREARS_TABLES,
    *DISPUTE_TABLES,
    *SUBSTATION_TABLES,
)
