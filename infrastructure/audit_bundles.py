"""Audit bundles: a household's stored events in one signed file, and its bills re-derived from
that file alone, without the ledger's database.

A bundle is JSON Lines (UTF-8, one JSON object a line, ``\\n`` after each):

1. a **header**: ``{"kind": "header", "format": "heatledger-audit-bundle", "format_version": 1,
   "account", "exported_at", "ledger", "scope", "accounts", "event_count",
   "last_notification_id", "bills", "tariffs"}``: who exported what, the household's bills as the
   ledger issued them, and the tariff versions (document number, version) those bills used;
2. one **event** line per stored event of the scope, in the ledger's recording order:
   ``{"kind": "event", "id", "originator_id", "originator_version", "topic", "state"}``, where
   ``id`` is the event's notification id in the exporting ledger (bills record positions of that
   log: ``inputs_position``), and ``state`` the stored state's exact text (the JSON the ledger
   stored; ``state_base64`` instead should a state ever not be UTF-8);
3. a **signature** line: ``{"kind": "signature", "algorithm": "Ed25519", "digest_sha256",
   "key_id", "public_key", "value"}``: an Ed25519 signature of the text
   ``heatledger-audit-bundle/1 sha256:<digest>``, where ``<digest>`` is the SHA-256 (hex) of every
   byte of the file before the signature line. Signing the digest rather than the file lets a
   bundle of any size be signed and checked while it streams, and anyone can check it with
   standard tools (docs/audit.md, "Bundles").

The scope is the household's (``household_scope``), or its whole building's when it has a monthly
statement, which compares the flat with its building's average (``building_scope``).

Replaying checks the signature against a trusted public key first (the key embedded in the
bundle only says which key signed it: a bundle re-signed with any other key is refused), then
stores the events in an in-memory SQLite event store under their original notification ids, so
that each bill's ``inputs_position`` means what it meant in the exporting ledger, projects them
into in-memory read models, and replays every bill of the household through the same billing run
(``BillReplays``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO
from uuid import UUID, uuid4

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.pool import StaticPool

from application.ledger import HeatLedger
from domain import ids
from domain.billing import BillKind
from domain.errors import NotFoundError
from domain.household import Household
from infrastructure.bill_replay import BillReplays, LineDifference, ReplayOutcome
from infrastructure.event_selection import MAXIMUM_EVENTS, scoped_notifications
from infrastructure.point_in_time import building_scope, household_scope
from projections.ledger_projection import LedgerProjection
from projections.runner import ProjectionRunner
from projections.tables import bills, metadata

FORMAT = "heatledger-audit-bundle"
FORMAT_VERSION = 1
SIGNATURE_ALGORITHM = "Ed25519"
# What is signed: this prefix and the hex digest (a signature over a bundle is never mistaken for
# a signature over anything else the key might sign).
SIGNED_MESSAGE_PREFIX = b"heatledger-audit-bundle/1 sha256:"
# A bound on one line (an event's state is a few kilobytes; a header lists a household's bills).
MAXIMUM_LINE_BYTES = 16 * 1024 * 1024
# A bound on a bundle's events: the most a scope selection returns.
MAXIMUM_BUNDLE_EVENTS = MAXIMUM_EVENTS
# Events are written to the replay's store this many per INSERT batch.
INSERT_BATCH_SIZE = 2_000
# The replay's read models catch up this many events per transaction (in memory).
PROJECTION_BATCH_SIZE = 5_000
# Progress is reported every this many lines.
PROGRESS_EVERY_LINES = 1_000

# progress(stage, done, total): what a long export or replay is doing and how far it is.
Progress = Callable[[str, int, int], None]

_REGISTERED_TOPIC = get_topic(Household.Registered)
# What tells a bundle's first line from any other file's (before the signature says it is intact).
_SIGNATURE_FIELDS = frozenset({"kind", "algorithm", "digest_sha256", "key_id", "public_key", "value"})
_FORMAT_MARK = re.compile(rb'"format"\s*:\s*"' + FORMAT.encode() + rb'"')


class BundleError(Exception):
    """The bundle cannot be used: not readable, malformed, truncated or of an unknown format."""


class BundleSignatureError(BundleError):
    """The bundle is not what the trusted key signed: changed after signing, signed by another
    key, or its signature is missing or broken."""


class SigningKeyError(Exception):
    """The signing or public key is missing, unreadable, or not safe to sign with."""


# -- keys -------------------------------------------------------------------------------------


def public_key_path(private_key_path: Path) -> Path:
    """Where ``heatledger audit keygen`` writes the public half: ``key.pem`` → ``key.pub.pem``."""
    return private_key_path.with_name(f"{private_key_path.stem}.pub.pem")


def generate_signing_key(path: Path) -> Ed25519PublicKey:
    """A new Ed25519 key: the private key at ``path`` (PKCS #8 PEM, readable by its owner only)
    and the public key beside it (``public_key_path``). Refuses to replace an existing key: the
    bundles it signed could no longer be checked against a key kept elsewhere."""
    public_path = public_key_path(path)
    for existing in (path, public_path):
        if existing.exists():
            raise SigningKeyError(f"{existing} exists: a signing key is never replaced silently (move it away first)")
    path.parent.mkdir(parents=True, exist_ok=True)
    private_key = Ed25519PrivateKey.generate()
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Created with owner-only permissions from the start (no moment where others may read it).
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    public_key = private_key.public_key()
    public_path.write_bytes(public_key_pem(public_key))
    return public_key


def load_signing_key(path: Path, *, owner_only: bool) -> Ed25519PrivateKey:
    """The Ed25519 private key in ``path``. With ``owner_only`` (production), a key file that its
    group or others may read is refused: whoever reads it can sign bundles as the utility."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except FileNotFoundError:
        raise SigningKeyError(f"no signing key at {path}: create one with `heatledger audit keygen`") from None
    except OSError as error:
        raise SigningKeyError(f"cannot read the signing key {path}: {error.strerror or error}") from None
    if owner_only and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SigningKeyError(f"the signing key {path} may be read by others (mode {stat.S_IMODE(mode):o}): chmod 600")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise SigningKeyError(f"{path} is not an unencrypted PEM private key: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from ``path``: a PEM file (as keygen writes it), or the 32 raw bytes
    in base64 (as keygen and export print them)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SigningKeyError(f"cannot read the public key {path}: {error.strerror or error}") from None
    return parse_public_key(data, str(path))


def parse_public_key(data: bytes, name: str = "the public key") -> Ed25519PublicKey:
    """An Ed25519 public key from PEM text or base64 of its 32 raw bytes."""
    if data.lstrip().startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError as error:
            raise SigningKeyError(f"{name} is not a PEM public key: {error}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise SigningKeyError(f"{name} holds a {type(key).__name__}, not an Ed25519 key")
        return key
    try:
        raw = base64.b64decode(data.strip(), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        raise SigningKeyError(f"{name} is neither a PEM public key nor the base64 of 32 raw bytes") from None


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_key_text(key: Ed25519PublicKey) -> str:
    """The public key's 32 raw bytes in base64 (one short line to read out or paste)."""
    return base64.b64encode(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


def key_id(key: Ed25519PublicKey) -> str:
    """A short name of a public key: ``ed25519:`` and the first 16 hex digits of its SHA-256."""
    return "ed25519:" + hashlib.sha256(_raw(key)).hexdigest()[:16]


def signed_message(digest_hex: str) -> bytes:
    """The bytes a bundle's signature is over, given the digest of its content."""
    return SIGNED_MESSAGE_PREFIX + digest_hex.encode("ascii")


# -- export -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TariffUsed:
    """A tariff version some of the household's bills were computed with."""

    scope: str
    version: int
    document_number: str
    approved_on: str
    bill_numbers: tuple[str, ...]

    def to_record(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "version": self.version,
            "document_number": self.document_number,
            "approved_on": self.approved_on,
            "bills": list(self.bill_numbers),
        }


@dataclass(frozen=True)
class ExportedBundle:
    """What an export wrote."""

    path: Path
    account_number: str
    scope: str  # "household" or "building"
    accounts: tuple[str, ...]  # the households whose events are in the bundle
    event_count: int
    bill_count: int
    tariffs: tuple[TariffUsed, ...]
    key_id: str
    digest_sha256: str
    size_bytes: int


def export_bundle(
    source: HeatLedger,
    engine: Engine,
    account_number: str,
    path: Path,
    signing_key: Ed25519PrivateKey,
    *,
    today: date,
    exported_at: datetime,
    ledger: Mapping[str, str],
    progress: Progress | None = None,
) -> ExportedBundle:
    """Write the signed bundle of ``account_number`` to ``path`` (whole or not at all: it is written
    beside and renamed). ``ledger`` names the exporting ledger (its application, utility, store);
    ``today`` bounds the seasons of the scope. NotFoundError for an unknown household."""
    household_id = ids.household_id(account_number)
    if not scoped_notifications(source.recorder, [household_id]):
        raise NotFoundError(f"no household {account_number}", kind="household", key=account_number)
    issued = _issued_bills(engine, account_number)
    with_statement = any(row["kind"] == BillKind.STATEMENT.value for row in issued)
    scope_of = building_scope if with_statement else household_scope
    notifications = scoped_notifications(source.recorder, scope_of(source, engine, account_number, today))
    assert len(notifications) <= MAXIMUM_BUNDLE_EVENTS, "a bundle holds at most a scope selection"
    tariffs = _tariffs_used(issued)
    scope = "building" if with_statement else "household"
    accounts = _accounts(source, notifications)
    header = {
        "kind": "header",
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "account": account_number,
        "exported_at": exported_at.isoformat(),
        "ledger": dict(ledger),
        "scope": scope,
        "accounts": accounts,
        "event_count": len(notifications),
        "last_notification_id": notifications[-1].id if notifications else 0,
        "bills": [_bill_summary(row) for row in issued],
        "tariffs": [tariff.to_record() for tariff in tariffs],
    }
    digest, size = _write_signed(path, header, notifications, signing_key, progress)
    return ExportedBundle(
        path,
        account_number,
        scope,
        tuple(accounts),
        len(notifications),
        len(issued),
        tariffs,
        key_id(signing_key.public_key()),
        digest,
        size,
    )


def _issued_bills(engine: Engine, account_number: str) -> list[dict[str, Any]]:
    """The household's bills in the order they were issued, with their lines."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(bills).where(bills.c.account_number == account_number).order_by(bills.c.issued_at, bills.c.number)
        ).mappings()
        return [dict(row) for row in rows]


def _bill_summary(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "bill_id": str(row["bill_id"]),
        "number": row["number"],
        "kind": row["kind"],
        "season": row["season_code"],
        "issued_on": row["issued_on"].isoformat(),
        "amount_yuan": str(row["amount_yuan"]),
    }


def _tariffs_used(issued: Sequence[Mapping[str, Any]]) -> tuple[TariffUsed, ...]:
    """The tariff versions the bills' lines name (the ``tariff`` line states the scope, version,
    government document and its approval day the bill was computed with)."""
    used: dict[tuple[str, int, str, str], list[str]] = {}
    for row in issued:
        for line in json.loads(row["lines"]):
            figures = line.get("figures") or {}
            if line.get("code") == "tariff" and "document_number" in figures:
                key = (
                    str(figures.get("scope", "")),
                    int(figures.get("version", 0)),
                    str(figures["document_number"]),
                    str(figures.get("approved_on", "")),
                )
                numbers = used.setdefault(key, [])
                if row["number"] not in numbers:
                    numbers.append(row["number"])
    return tuple(TariffUsed(*key, tuple(numbers)) for key, numbers in used.items())


def _accounts(source: HeatLedger, notifications: Sequence[Notification]) -> list[str]:
    """The account numbers of the households registered in ``notifications``."""
    registered: list[Any] = [source.mapper.to_domain_event(n) for n in notifications if n.topic == _REGISTERED_TOPIC]
    return sorted({event.account_number for event in registered})


def _event_record(notification: Notification) -> dict[str, Any]:
    record: dict[str, Any] = {
        "kind": "event",
        "id": notification.id,
        "originator_id": str(notification.originator_id),
        "originator_version": notification.originator_version,
        "topic": notification.topic,
    }
    try:
        record["state"] = bytes(notification.state).decode("utf-8")
    except UnicodeDecodeError:  # a compressed or encrypted store: kept exact, in base64
        record["state_base64"] = base64.b64encode(notification.state).decode("ascii")
    return record


def _line(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def _write_signed(
    path: Path,
    header: Mapping[str, Any],
    notifications: Sequence[Notification],
    signing_key: Ed25519PrivateKey,
    progress: Progress | None,
) -> tuple[str, int]:
    """Write header, events and signature to a file beside ``path``, then rename it to ``path``."""
    partial = path.with_name(f".{path.name}.{uuid4().hex[:8]}.partial")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as handle:
            _write(handle, digest, _line(header))
            for done, notification in enumerate(notifications, start=1):
                _write(handle, digest, _line(_event_record(notification)))
                if progress is not None and (done % PROGRESS_EVERY_LINES == 0 or done == len(notifications)):
                    progress("writing events", done, len(notifications))
            handle.write(_line(_signature_record(digest.hexdigest(), signing_key)))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except BaseException:
        with suppress(OSError):
            partial.unlink()
        raise
    return digest.hexdigest(), path.stat().st_size


def _write(handle: BinaryIO, digest: Any, line: bytes) -> None:
    digest.update(line)
    handle.write(line)


def _signature_record(digest_hex: str, signing_key: Ed25519PrivateKey) -> dict[str, Any]:
    public_key = signing_key.public_key()
    return {
        "kind": "signature",
        "algorithm": SIGNATURE_ALGORITHM,
        "digest_sha256": digest_hex,
        "key_id": key_id(public_key),
        "public_key": public_key_text(public_key),
        "value": base64.b64encode(signing_key.sign(signed_message(digest_hex))).decode("ascii"),
    }


# -- reading and verifying --------------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedBundle:
    """A bundle whose signature the trusted key verified: the digest and key of that check."""

    path: Path
    digest_sha256: str
    key_id: str
    line_count: int  # header, events and signature


def verify_bundle(path: Path, trusted_key: Ed25519PublicKey, progress: Progress | None = None) -> VerifiedBundle:
    """Check that ``path`` is, byte for byte, what ``trusted_key`` signed; BundleSignatureError
    naming what is wrong when it is not, BundleError when it cannot be read."""
    digest = hashlib.sha256()
    last: bytes | None = None
    count, read_bytes, size_bytes = 0, 0, _size(path)
    for line in _lines(path):
        if last is not None:
            digest.update(last)
        last, count, read_bytes = line, count + 1, read_bytes + len(line)
        if count == 1 and not _FORMAT_MARK.search(line):
            raise BundleError(f"{path} is not a {FORMAT}: its first line is no bundle header")
        if progress is not None and count % PROGRESS_EVERY_LINES == 0:
            progress("checking the signature (bytes)", read_bytes, size_bytes)
    if last is None:
        raise BundleError(f"{path} is empty")
    signature = _signature_of(last)
    _check_signature(signature, digest.hexdigest(), trusted_key)
    return VerifiedBundle(path, digest.hexdigest(), key_id(trusted_key), count)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as error:
        raise BundleError(f"cannot read {path}: {error.strerror or error}") from None


def _lines(path: Path) -> Iterator[bytes]:
    """The file's lines, each with its newline, each at most MAXIMUM_LINE_BYTES."""
    try:
        handle = path.open("rb")
    except OSError as error:
        raise BundleError(f"cannot read {path}: {error.strerror or error}") from None
    with handle:
        for _ in range(MAXIMUM_BUNDLE_EVENTS + 3):
            line = handle.readline(MAXIMUM_LINE_BYTES + 1)
            if not line:
                return
            if len(line) > MAXIMUM_LINE_BYTES:
                raise BundleError(f"{path} has a line longer than {MAXIMUM_LINE_BYTES} bytes: not a bundle")
            yield line
        raise BundleError(f"{path} has more than {MAXIMUM_BUNDLE_EVENTS} events: not a bundle this ledger wrote")


def _signature_of(line: bytes) -> dict[str, str]:
    """The signature line's fields, exactly those the format names, each a string."""
    try:
        record = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        record = None
    if not isinstance(record, dict) or record.get("kind") != "signature":
        raise BundleSignatureError("the bundle's last line is not its signature: unsigned, truncated or appended to")
    if set(record) != _SIGNATURE_FIELDS or not all(isinstance(value, str) for value in record.values()):
        raise BundleSignatureError(
            f"the bundle's signature line must hold exactly {', '.join(sorted(_SIGNATURE_FIELDS))}"
        )
    if record["algorithm"] != SIGNATURE_ALGORITHM:
        raise BundleSignatureError(f"the bundle is signed with {record['algorithm']}, not {SIGNATURE_ALGORITHM}")
    # The line is not covered by the signature it carries, so it must be byte for byte the line
    # the fields give (compact JSON, this field order, one newline): nothing in it can change.
    if _line(_signature_fields(record)) != line:
        raise BundleSignatureError("the bundle's signature line is not written as Heat Ledger writes it")
    return record


def _signature_fields(record: Mapping[str, str]) -> dict[str, str]:
    return {name: record[name] for name in ("kind", "algorithm", "digest_sha256", "key_id", "public_key", "value")}


def _check_signature(signature: Mapping[str, str], digest_hex: str, trusted_key: Ed25519PublicKey) -> None:
    if signature["digest_sha256"] != digest_hex:
        raise BundleSignatureError(
            "the bundle was changed after it was signed: its content's SHA-256 is "
            f"{digest_hex}, the signed one {signature['digest_sha256']}"
        )
    trusted_id = key_id(trusted_key)
    embedded = _canonical_base64(signature["public_key"], "public key")
    if embedded != _raw(trusted_key):
        raise BundleSignatureError(
            f"the bundle is signed by key {_embedded_key_id(embedded)}, not by the trusted key {trusted_id}"
        )
    if signature["key_id"] != trusted_id:
        raise BundleSignatureError(f"the bundle's signature names key {signature['key_id']!r}, not {trusted_id}")
    try:
        trusted_key.verify(_canonical_base64(signature["value"], "signature"), signed_message(digest_hex))
    except InvalidSignature:
        raise BundleSignatureError(
            f"the bundle's signature does not verify under the trusted key {trusted_id}"
        ) from None


def _canonical_base64(text: str, what: str) -> bytes:
    """Base64 as this module writes it, and only so: a decoder that ignores stray bits would let a
    changed character of the signature line pass unnoticed."""
    try:
        decoded = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        decoded = None
    if decoded is None or base64.b64encode(decoded).decode("ascii") != text:
        raise BundleSignatureError(f"the bundle's {what} is not base64 as Heat Ledger writes it")
    return decoded


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _embedded_key_id(raw: bytes) -> str:
    try:
        return key_id(Ed25519PublicKey.from_public_bytes(raw))
    except ValueError:
        return "(not an Ed25519 key)"


# -- the bundle as a ledger -------------------------------------------------------------------


class BundleLedger(HeatLedger):
    """A ledger in memory holding a bundle's events under their original notification ids (the
    library's SQLite recorder uses the rowid as the notification id, so rows are inserted with
    their rowid given)."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        # A named shared-cache database: the library's connection pool opens several connections,
        # and a plain ":memory:" would give each its own empty database.
        name = f"file:heatledger-audit-bundle-{uuid4().hex}?mode=memory&cache=shared"
        super().__init__(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": name}, clock=clock)

    def receive(self, notifications: Sequence[Notification]) -> None:
        """Store ``notifications`` with their own ids (ids above every stored one)."""
        recorder: Any = self.recorder
        statement = (
            f"INSERT INTO {recorder.events_table_name} (rowid, originator_id, originator_version, topic, state) "
            "VALUES (?, ?, ?, ?, ?)"
        )
        rows = [(n.id, UUID(str(n.originator_id)).hex, n.originator_version, n.topic, n.state) for n in notifications]
        with recorder.datastore.transaction(commit=True) as cursor:
            cursor.executemany(statement, rows)

    def save(self, *objs: Any, **kwargs: Any) -> list[Any]:
        raise AssertionError("a bundle's ledger is read-only: nothing is ever saved to it")


@dataclass
class OpenedBundle:
    """A verified bundle's header, its events in a ledger in memory and their read models."""

    header: dict[str, Any]
    verified: VerifiedBundle
    ledger: BundleLedger
    engine: Engine

    def close(self) -> None:
        self.ledger.close()
        self.engine.dispose()

    def __enter__(self) -> OpenedBundle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_bundle(path: Path, trusted_key: Ed25519PublicKey, progress: Progress | None = None) -> OpenedBundle:
    """Verify ``path`` under ``trusted_key``, then load its events into a ledger in memory with its
    original notification ids and project them into read models in memory."""
    verified = verify_bundle(path, trusted_key, progress)
    ledger: BundleLedger | None = None
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    try:
        metadata.create_all(engine)
        header: dict[str, Any] = {}
        ledger = BundleLedger(lambda: _exported_at(header))
        header.update(_load_events(verified, ledger, progress))
        runner = ProjectionRunner(ledger, engine, LedgerProjection(), batch_size=PROJECTION_BATCH_SIZE)
        try:
            # The runner reports positions in the log (notification ids, with the scope's gaps).
            runner.catch_up(
                lambda position, last: progress("projecting (log position)", position, last) if progress else None
            )
        except Exception as error:  # a topic this ledger does not know, or not a history it can project
            raise BundleError(f"the bundle's events cannot be projected by this Heat Ledger: {error}") from error
        return OpenedBundle(header, verified, ledger, engine)
    except BaseException:
        if ledger is not None:
            ledger.close()
        engine.dispose()
        raise


def _exported_at(header: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(header["exported_at"])


def _load_events(verified: VerifiedBundle, ledger: BundleLedger, progress: Progress | None) -> dict[str, Any]:
    """Read the header and store the events, hashing the lines again: what is loaded must be
    exactly what was verified (the file could have changed between the two reads)."""
    digest = hashlib.sha256()
    lines = _lines(verified.path)
    header_line = next(lines, b"")
    digest.update(header_line)
    header = _header(header_line)
    total = int(header["event_count"])
    batch: list[Notification] = []
    count, last_id = 0, 0
    for number, line in enumerate(lines, start=2):
        if number == verified.line_count:
            break  # the signature line, verified already
        digest.update(line)
        notification = _notification(line, number)
        if notification.id <= last_id:
            raise BundleError(f"line {number}: event {notification.id} is out of recording order")
        batch.append(notification)
        count, last_id = count + 1, notification.id
        if len(batch) >= INSERT_BATCH_SIZE:
            ledger.receive(batch)
            batch.clear()
        if progress is not None and count % PROGRESS_EVERY_LINES == 0:
            progress("loading events", count, total)
    ledger.receive(batch)
    if digest.hexdigest() != verified.digest_sha256:
        raise BundleSignatureError("the bundle changed while it was read: it is not the file that was verified")
    if count != total:
        raise BundleError(f"the header announces {total} events, the bundle holds {count}")
    if progress is not None:
        progress("loading events", count, total)
    return header


def _header(line: bytes) -> dict[str, Any]:
    record = _json_object(line, 1)
    if record.get("kind") != "header" or record.get("format") != FORMAT:
        raise BundleError(f"line 1 is not the header of a {FORMAT}")
    if record.get("format_version") != FORMAT_VERSION:
        raise BundleError(
            f"the bundle's format version {record.get('format_version')!r} is not one this Heat Ledger reads "
            f"({FORMAT_VERSION})"
        )
    for name, kind in (("account", str), ("exported_at", str), ("event_count", int), ("bills", list)):
        if not isinstance(record.get(name), kind):
            raise BundleError(f"the bundle's header has no valid {name}")
    try:
        _exported_at(record)
    except ValueError:
        raise BundleError("the bundle's header has no valid exported_at") from None
    return record


def _notification(line: bytes, number: int) -> Notification:
    record = _json_object(line, number)
    if record.get("kind") != "event":
        raise BundleError(f"line {number} is not an event")
    try:
        state = (
            base64.b64decode(record["state_base64"], validate=True)
            if "state_base64" in record
            else str(record["state"]).encode("utf-8")
        )
        notification = Notification(
            id=_positive(record["id"]),
            originator_id=UUID(str(record["originator_id"])),
            originator_version=_positive(record["originator_version"]),
            topic=str(record["topic"]),
            state=state,
        )
    except (KeyError, ValueError, TypeError, binascii.Error) as error:
        raise BundleError(f"line {number} is not a valid event: {error}") from None
    return notification


def _positive(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{value!r} is not a positive whole number")
    return value


def _json_object(line: bytes, number: int) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BundleError(f"line {number} is not JSON") from None
    if not isinstance(record, dict):
        raise BundleError(f"line {number} is not a JSON object")
    return record


# -- replay -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BillCheck:
    """One bill of the bundle: as issued, as replayed from the bundle's events, and whether they
    are the same to the fen."""

    number: str
    kind: str
    issued_amount_yuan: Decimal | None  # None: listed in the header, but absent from the events
    replayed_amount_yuan: Decimal | None
    matches: bool
    differences: tuple[str, ...]


@dataclass(frozen=True)
class BundleReplay:
    """Every bill of a bundle's household replayed from the bundle alone."""

    account_number: str
    key_id: str
    event_count: int
    checks: tuple[BillCheck, ...]

    @property
    def all_match(self) -> bool:
        return all(check.matches for check in self.checks)


def replay_bundle(path: Path, trusted_key: Ed25519PublicKey, progress: Progress | None = None) -> BundleReplay:
    """Verify the bundle, then re-derive each of its household's bills from its events alone."""
    with open_bundle(path, trusted_key, progress) as bundle:
        account = str(bundle.header["account"])
        replays = BillReplays(bundle.ledger, bundle.engine)
        found = _issued_bills(bundle.engine, account)
        checks: list[BillCheck] = []
        for done, row in enumerate(found, start=1):
            checks.append(_replayed(replays, row))
            if progress is not None:
                progress("replaying bills", done, len(found))
        checks.extend(_missing(bundle.header, found))
        return BundleReplay(account, bundle.verified.key_id, int(bundle.header["event_count"]), tuple(checks))


def _replayed(replays: BillReplays, row: Mapping[str, Any]) -> BillCheck:
    """The bill replayed, or why the bundle's events cannot replay it (a check that fails)."""
    try:
        return _check(replays.replay(row["bill_id"]))
    except Exception as error:  # events signed as they are, but not a history the ledger can replay
        return BillCheck(row["number"], row["kind"], row["amount_yuan"], None, False, (f"cannot be replayed: {error}",))


def _check(outcome: ReplayOutcome) -> BillCheck:
    if outcome.replayed.refusal is not None:
        differences: tuple[str, ...] = (f"not replayed: {outcome.replayed.refusal}",)
    else:
        differences = tuple(describe(difference) for difference in outcome.differences)
    return BillCheck(
        outcome.number,
        outcome.kind,
        outcome.issued_amount_yuan,
        outcome.replayed.amount_yuan,
        outcome.matches,
        differences,
    )


def _missing(header: Mapping[str, Any], found: Sequence[Mapping[str, Any]]) -> list[BillCheck]:
    """The bills the header lists whose issue is not among the bundle's events."""
    numbers = {row["number"] for row in found}
    return [
        BillCheck(
            str(listed.get("number")),
            str(listed.get("kind")),
            None,
            None,
            False,
            ("listed in the header, but not issued by the bundle's events",),
        )
        for listed in header["bills"]
        if isinstance(listed, dict) and listed.get("number") not in numbers
    ]


def describe(difference: LineDifference) -> str:
    """One line of a bill that differs, in words: its code, the amounts and the figures that moved."""
    issued, replayed = difference.issued, difference.recomputed
    code = issued.code if issued is not None else replayed.code if replayed is not None else ""
    name = f"line {difference.index + 1} ({code})"
    if issued is None:
        return f"{name}: only in the replay ({replayed.amount_yuan if replayed else ''})"
    if replayed is None:
        return f"{name}: only on the issued bill ({issued.amount_yuan})"
    parts = []
    if issued.amount_yuan != replayed.amount_yuan:
        parts.append(f"{issued.amount_yuan} → {replayed.amount_yuan}")
    for key in sorted(set(issued.figures) | set(replayed.figures)):
        if issued.figures.get(key) != replayed.figures.get(key):
            parts.append(f"{key} {issued.figures.get(key)} → {replayed.figures.get(key)}")
    if issued.code != replayed.code:
        parts.append(f"code {issued.code} → {replayed.code}")
    return f"{name}: " + "; ".join(parts)
