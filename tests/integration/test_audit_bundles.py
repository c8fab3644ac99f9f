"""Audit bundles on SQLite and PostgreSQL: a household's events exported with their original
notification ids and signed, its bills re-derived from the file alone, and every kind of tampering
refused before anything is replayed.

The replay runs the billing run again over the bundle's events; these tests compare its lines with
the issued ones, and show it reports a bill that the bundle's events no longer give.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.billing import BillKind
from domain.errors import NotFoundError
from infrastructure import audit_bundles
from infrastructure.audit_bundles import (
    BundleError,
    BundleSignatureError,
    ExportedBundle,
    SigningKeyError,
    export_bundle,
    generate_signing_key,
    load_signing_key,
    public_key_path,
    replay_bundle,
    verify_bundle,
)
from infrastructure.container import Container
from infrastructure.event_selection import scoped_notifications
from infrastructure.point_in_time import household_scope
from tests.integration import test_billing_runs
from tests.integration.test_billing_runs import SEASON, run

D = Decimal
# The billing runs' two metered households in building 1, the tariff, the clock after the season.
billed = test_billing_runs.billed
TODAY = date(2026, 4, 15)
EXPORTED_AT = datetime(2026, 4, 15, 3, tzinfo=UTC)
DOCUMENT = "许发改价格〔2025〕7号"


@pytest.fixture
def signing_key(tmp_path: Path) -> Ed25519PrivateKey:
    path = tmp_path / "keys" / "audit-signing-key.pem"
    generate_signing_key(path)
    return load_signing_key(path, owner_only=True)


def export(container: Container, key: Ed25519PrivateKey, path: Path, account: str = "A-1") -> ExportedBundle:
    return export_bundle(
        container.ledger,
        container.engine,
        account,
        path,
        key,
        today=TODAY,
        exported_at=EXPORTED_AT,
        ledger={"application": "heatledger", "utility": "热力公司"},
    )


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def resign(path: Path, lines: list[bytes], key: Ed25519PrivateKey) -> None:
    """Write ``lines`` (header and events) with a signature by ``key``, made from the documented
    format only: Ed25519 over the prefix and the SHA-256 of every byte before the signature line."""
    content = b"".join(lines)
    digest = hashlib.sha256(content).hexdigest()
    public = key.public_key()
    signature = {
        "kind": "signature",
        "algorithm": "Ed25519",
        "digest_sha256": digest,
        "key_id": audit_bundles.key_id(public),
        "public_key": audit_bundles.public_key_text(public),
        "value": base64.b64encode(key.sign(b"heatledger-audit-bundle/1 sha256:" + digest.encode())).decode(),
    }
    path.write_bytes(content + json.dumps(signature, separators=(",", ":")).encode() + b"\n")


def issue_every_kind(container: Container) -> None:
    run(container, BillKind.PREPAYMENT)
    run(container, BillKind.STATEMENT, "2025-12")
    run(container, BillKind.SETTLEMENT)


def test_every_bill_replays_from_the_bundle_alone_to_the_fen(
    billed: Container, signing_key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    issue_every_kind(billed)
    path = tmp_path / "A-1.jsonl"
    exported = export(billed, signing_key, path)
    # A monthly statement compares the flat with its building: both households are in the bundle.
    assert (exported.scope, exported.accounts, exported.bill_count) == ("building", ("A-1", "A-2"), 3)
    issued = {bill.number: bill for bill in billed.billing.period("A-1", SEASON).issued()}
    billed.close()  # the replay reads the file and nothing else

    replayed = replay_bundle(path, signing_key.public_key())
    assert replayed.all_match
    assert {check.number for check in replayed.checks} == set(issued)
    for check in replayed.checks:
        assert check.matches and check.differences == ()
        assert check.replayed_amount_yuan == check.issued_amount_yuan == issued[check.number].amount_yuan
    assert {check.kind for check in replayed.checks} == {"prepayment", "statement", "settlement"}
    assert replayed.event_count == exported.event_count


def test_the_bundle_keeps_each_event_s_original_notification_id(
    billed: Container, signing_key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    # Without a statement the scope is the household's: A-2's events leave gaps in the ids, and the
    # bills' inputs positions point into the whole log.
    run(billed, BillKind.PREPAYMENT)
    run(billed, BillKind.SETTLEMENT)
    path = tmp_path / "A-1.jsonl"
    exported = export(billed, signing_key, path)
    assert (exported.scope, exported.accounts) == ("household", ("A-1",))
    scope = household_scope(billed.ledger, billed.engine, "A-1", TODAY)
    stored = scoped_notifications(billed.ledger.recorder, scope)
    events = [json.loads(line) for line in lines_of(path)[1:-1]]
    assert [(event["id"], event["originator_id"], event["originator_version"]) for event in events] == [
        (n.id, str(n.originator_id), n.originator_version) for n in stored
    ]
    assert [event["state"].encode() for event in events] == [bytes(n.state) for n in stored]
    ids_in_bundle = [event["id"] for event in events]
    assert ids_in_bundle[-1] - ids_in_bundle[0] + 1 > len(ids_in_bundle)  # there are gaps
    assert replay_bundle(path, signing_key.public_key()).all_match


def test_the_header_names_the_household_its_bills_and_the_tariff_versions_they_used(
    billed: Container, signing_key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    issue_every_kind(billed)
    path = tmp_path / "A-1.jsonl"
    exported = export(billed, signing_key, path)
    header = json.loads(lines_of(path)[0])
    assert (header["format"], header["format_version"], header["account"]) == ("heatledger-audit-bundle", 1, "A-1")
    assert header["exported_at"] == EXPORTED_AT.isoformat()
    assert header["ledger"] == {"application": "heatledger", "utility": "热力公司"}
    numbers = [bill["number"] for bill in header["bills"]]
    assert sorted(numbers) == sorted(bill.number for bill in billed.billing.period("A-1", SEASON).issued())
    (tariff,) = header["tariffs"]
    assert (tariff["scope"], tariff["version"], tariff["document_number"]) == ("*", 1, DOCUMENT)
    assert sorted(tariff["bills"]) == sorted(numbers)
    assert header["event_count"] == exported.event_count == len(lines_of(path)) - 2


def test_the_signature_checks_with_standard_tools_as_documented(
    billed: Container, signing_key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    run(billed, BillKind.PREPAYMENT)
    path = tmp_path / "A-1.jsonl"
    export(billed, signing_key, path)
    *content, last = lines_of(path)
    signature = json.loads(last)
    digest = hashlib.sha256(b"".join(content)).hexdigest()
    assert signature["digest_sha256"] == digest
    message, value = tmp_path / "message", tmp_path / "signature.bin"
    message.write_bytes(f"heatledger-audit-bundle/1 sha256:{digest}".encode())
    value.write_bytes(base64.b64decode(signature["value"]))
    public_pem = public_key_path(tmp_path / "keys" / "audit-signing-key.pem")
    command = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(public_pem), "-rawin", "-in", str(message)]
    checked = subprocess.run([*command, "-sigfile", str(value)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0 and "Verified Successfully" in checked.stdout, checked.stdout + checked.stderr
    message.write_bytes(f"heatledger-audit-bundle/1 sha256:{'0' * 64}".encode())
    forged = subprocess.run([*command, "-sigfile", str(value)], capture_output=True, text=True, check=False)
    assert forged.returncode != 0


# -- tampering ----------------------------------------------------------------------------------


@pytest.fixture
def bundle(billed: Container, signing_key: Ed25519PrivateKey, tmp_path: Path) -> Path:
    run(billed, BillKind.PREPAYMENT)
    path = tmp_path / "A-1.jsonl"
    export(billed, signing_key, path)
    return path


def flip_byte(path: Path, line_index: int, needle: bytes) -> None:
    """Change one byte of one line: the first byte of ``needle`` becomes another character."""
    lines = lines_of(path)
    at = lines[line_index].index(needle)
    changed = bytearray(lines[line_index])
    changed[at] = ord("8") if changed[at] != ord("8") else ord("7")
    lines[line_index] = bytes(changed)
    path.write_bytes(b"".join(lines))


def registered_line(path: Path, account: str = "A-1") -> int:
    return next(
        index
        for index, line in enumerate(lines_of(path))
        if b"Household.Registered" in line and f'\\"account_number\\":\\"{account}\\"'.encode() in line
    )


def test_a_byte_changed_in_an_event_fails_the_signature(bundle: Path, signing_key: Ed25519PrivateKey) -> None:
    flip_byte(bundle, registered_line(bundle), b"90.00")  # the household's area
    with pytest.raises(BundleSignatureError, match="changed after it was signed"):
        verify_bundle(bundle, signing_key.public_key())
    with pytest.raises(BundleSignatureError):
        replay_bundle(bundle, signing_key.public_key())


def test_a_byte_changed_in_the_header_fails_the_signature(bundle: Path, signing_key: Ed25519PrivateKey) -> None:
    flip_byte(bundle, 0, b"1944.00")  # the prepayment's amount as the header lists it
    with pytest.raises(BundleSignatureError, match="changed after it was signed"):
        replay_bundle(bundle, signing_key.public_key())


def test_an_altered_bundle_signed_again_with_another_key_is_refused(
    bundle: Path, signing_key: Ed25519PrivateKey
) -> None:
    lines = lines_of(bundle)
    at = registered_line(bundle)
    lines[at] = lines[at].replace(b"90.00", b"60.00")
    resign(bundle, lines[:-1], Ed25519PrivateKey.generate())
    with pytest.raises(BundleSignatureError, match="not by the trusted key"):
        replay_bundle(bundle, signing_key.public_key())


def test_a_signature_by_another_key_under_the_trusted_key_s_name_is_refused(
    bundle: Path, signing_key: Ed25519PrivateKey
) -> None:
    lines = lines_of(bundle)
    resign(bundle, lines[:-1], Ed25519PrivateKey.generate())
    signature = json.loads(lines_of(bundle)[-1])
    signature["public_key"] = audit_bundles.public_key_text(signing_key.public_key())
    signature["key_id"] = audit_bundles.key_id(signing_key.public_key())
    bundle.write_bytes(b"".join(lines[:-1]) + json.dumps(signature, separators=(",", ":")).encode() + b"\n")
    with pytest.raises(BundleSignatureError, match="does not verify"):
        replay_bundle(bundle, signing_key.public_key())


def test_any_byte_changed_anywhere_in_a_bundle_is_refused(
    bundle: Path, signing_key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    """Header, events and the signature line itself: no change of one byte goes unnoticed."""
    content = bundle.read_bytes()
    signature_starts = content.rindex(b"\n", 0, len(content) - 1) + 1
    changed_path = tmp_path / "changed.jsonl"

    @given(
        st.one_of(st.integers(0, len(content) - 1), st.integers(signature_starts, len(content) - 1)),
        st.integers(1, 255),
    )
    @settings(max_examples=300)
    def refused(position: int, flip: int) -> None:
        changed = bytearray(content)
        changed[position] ^= flip
        changed_path.write_bytes(bytes(changed))
        with pytest.raises(BundleError):
            verify_bundle(changed_path, signing_key.public_key())

    refused()
    assert verify_bundle(bundle, signing_key.public_key()).line_count == content.count(b"\n")


@pytest.mark.parametrize("cut", ["signature", "appended", "event"])
def test_a_truncated_or_extended_bundle_is_refused(bundle: Path, signing_key: Ed25519PrivateKey, cut: str) -> None:
    lines = lines_of(bundle)
    changed = {
        "signature": lines[:-1],
        "appended": [*lines, lines[1]],
        "event": [*lines[:2], *lines[3:]],  # an event removed
    }[cut]
    bundle.write_bytes(b"".join(changed))
    with pytest.raises(BundleSignatureError):
        replay_bundle(bundle, signing_key.public_key())


def test_an_altered_bundle_signed_by_the_trusted_key_replays_to_a_different_bill(
    bundle: Path, signing_key: Ed25519PrivateKey
) -> None:
    """What an honest signer's mistake looks like: the area changed, the replay recomputes the
    prepayment from it and says it is not the issued one (it does not echo the stored amount)."""
    lines = lines_of(bundle)
    at = registered_line(bundle)
    lines[at] = lines[at].replace(b"90.00", b"100.00")
    resign(bundle, lines[:-1], signing_key)
    replayed = replay_bundle(bundle, signing_key.public_key())
    (check,) = replayed.checks
    assert not replayed.all_match and not check.matches
    # 100 m² × 21.6 元/m² instead of 90 m².
    assert (check.issued_amount_yuan, check.replayed_amount_yuan) == (D("1944.00"), D("2160.00"))
    assert any("1944.00 → 2160.00" in difference for difference in check.differences), check.differences


def test_a_bundle_of_another_format_or_with_a_bad_event_is_refused_clearly(
    bundle: Path, signing_key: Ed25519PrivateKey
) -> None:
    lines = lines_of(bundle)
    header = json.loads(lines[0])
    resign(bundle, [json.dumps({**header, "format_version": 99}).encode() + b"\n", *lines[1:-1]], signing_key)
    with pytest.raises(BundleError, match="format version 99"):
        replay_bundle(bundle, signing_key.public_key())
    resign(bundle, [lines[0], b'{"kind": "event", "id": "one"}\n', *lines[2:-1]], signing_key)
    with pytest.raises(BundleError, match="line 2 is not a valid event"):
        replay_bundle(bundle, signing_key.public_key())
    resign(bundle, [lines[0], lines[2], lines[1], *lines[3:-1]], signing_key)
    with pytest.raises(BundleError, match="out of recording order"):
        replay_bundle(bundle, signing_key.public_key())
    unknown_topic = lines[1].replace(b"domain.household:Household.Registered", b"domain.elsewhere:Gone")
    resign(bundle, [lines[0], unknown_topic, *lines[2:-1]], signing_key)
    with pytest.raises(BundleError, match="cannot be projected by this Heat Ledger"):
        replay_bundle(bundle, signing_key.public_key())


def test_a_bill_the_bundle_s_events_cannot_issue_is_reported_with_the_run_s_reason(
    bundle: Path, signing_key: Ed25519PrivateKey
) -> None:
    """Events signed as they are, but without the tariff: the replayed run refuses, and says why."""
    lines = lines_of(bundle)
    kept = [line for line in lines[1:-1] if b'"topic":"domain.tariff:' not in line]
    header = json.loads(lines[0])
    header["event_count"] = len(kept)
    resign(bundle, [json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode() + b"\n", *kept], signing_key)
    replayed = replay_bundle(bundle, signing_key.public_key())
    (check,) = replayed.checks
    assert not replayed.all_match and check.replayed_amount_yuan is None
    assert check.issued_amount_yuan == D("1944.00")
    (reason,) = check.differences
    assert reason.startswith("not replayed:") and "tariff" in reason, reason


# -- keys and households ------------------------------------------------------------------------


def test_a_key_is_never_replaced_and_one_others_may_read_is_refused_in_production(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    public = generate_signing_key(path)
    assert path.stat().st_mode & 0o077 == 0
    assert isinstance(audit_bundles.load_public_key(public_key_path(path)), Ed25519PublicKey)
    assert audit_bundles.key_id(audit_bundles.load_public_key(public_key_path(path))) == audit_bundles.key_id(public)
    with pytest.raises(SigningKeyError, match="never replaced"):
        generate_signing_key(path)
    path.chmod(0o644)
    with pytest.raises(SigningKeyError, match="chmod 600"):
        load_signing_key(path, owner_only=True)
    assert load_signing_key(path, owner_only=False).public_key() == public
    with pytest.raises(SigningKeyError, match="audit keygen"):
        load_signing_key(tmp_path / "missing.pem", owner_only=False)


def test_an_unknown_household_is_not_exported(
    billed: Container, signing_key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    path = tmp_path / "nobody.jsonl"
    with pytest.raises(NotFoundError):
        export(billed, signing_key, path, account="NOBODY")
    assert not path.exists() and list(tmp_path.glob("*.partial")) == []


def test_a_file_that_is_not_a_bundle_is_bad_input_not_a_forgery(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate().public_key()
    missing, empty, other = tmp_path / "missing.jsonl", tmp_path / "empty.jsonl", tmp_path / "readings.csv"
    empty.write_bytes(b"")
    other.write_text("meter_serial,measured_at,energy_gj\nM-1,2025-11-01T00:00:00+08:00,100\n", encoding="utf-8")
    for path, reason in ((missing, "cannot read"), (empty, "empty"), (other, "not a heatledger-audit-bundle")):
        with pytest.raises(BundleError, match=reason) as refused:
            replay_bundle(path, key)
        assert not isinstance(refused.value, BundleSignatureError)
