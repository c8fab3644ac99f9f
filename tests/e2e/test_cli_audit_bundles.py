"""``heatledger audit keygen / export / replay`` as an operator and an auditor would run them: a
bundle exported from a demo store, replayed without that store, and refused when it was changed."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sqlite3
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import Result

from api.cli_audit_bundles import BAD_INPUT, BILLS_DIFFER, BUNDLE_NOT_AUTHENTIC
from infrastructure.audit_bundles import generate_signing_key, key_id, load_signing_key, public_key_text
from tests.e2e.test_cli import data_dir, demo_store, env, run  # noqa: F401  (fixtures)

SIGNED_PREFIX = b"heatledger-audit-bundle/1 sha256:"


def first_billed_account(store: Path) -> tuple[str, int]:
    """A household of the demo with bills, and how many it has."""
    with sqlite3.connect(store / "heatledger.sqlite") as connection:
        account, count = connection.execute(
            "SELECT account_number, COUNT(*) FROM bills GROUP BY account_number ORDER BY account_number LIMIT 1"
        ).fetchone()
    return str(account), int(count)


@pytest.fixture
def keyed(env: dict[str, str], demo_store: Path) -> Path:  # noqa: F811
    """The demo store with the utility's signing key (data_dir/audit-signing-key.pem)."""
    made = run(env, "audit", "keygen")
    assert made.exit_code == 0, made.output
    return demo_store


@pytest.fixture
def bundle(env: dict[str, str], keyed: Path, tmp_path: Path) -> Path:  # noqa: F811
    account, _ = first_billed_account(keyed)
    path = tmp_path / "bundle.jsonl"
    exported = run(env, "audit", "export", "--household", account, str(path))
    assert exported.exit_code == 0, exported.output
    return path


def auditor_env(tmp_path: Path) -> dict[str, str]:
    """An auditor's machine: no ledger store at all (a PostgreSQL backend that does not exist)."""
    return {
        "HEATLEDGER_DATA_DIR": str(tmp_path / "auditor"),
        "HEATLEDGER_BACKEND": "postgres",
        "HEATLEDGER_POSTGRES_HOST": "127.0.0.1",
        "HEATLEDGER_POSTGRES_PORT": "1",
        "HEATLEDGER_ENVIRONMENT": "test",
        "COLUMNS": "250",
    }


def replay_as_auditor(tmp_path: Path, bundle: Path, public_key: Path) -> Result:
    return run(auditor_env(tmp_path), "audit", "replay", str(bundle), "--public-key", str(public_key))


def test_keygen_writes_an_owner_only_key_prints_its_public_half_and_never_replaces_it(
    env: dict[str, str],  # noqa: F811
    data_dir: Path,  # noqa: F811
) -> None:
    made = run(env, "audit", "keygen")
    assert made.exit_code == 0, made.output
    key_path = data_dir / "audit-signing-key.pem"
    assert key_path.stat().st_mode & 0o077 == 0
    public = load_signing_key(key_path, owner_only=True).public_key()
    assert key_id(public) in made.stdout and public_key_text(public) in made.stdout
    assert (data_dir / "audit-signing-key.pub.pem").exists()
    again = run(env, "audit", "keygen")
    assert again.exit_code == BAD_INPUT and "never replaced" in again.output
    assert load_signing_key(key_path, owner_only=True).public_key() == public


def test_an_exported_bundle_replays_every_bill_on_a_machine_without_the_store(
    env: dict[str, str],  # noqa: F811
    keyed: Path,
    tmp_path: Path,
) -> None:
    account, bill_count = first_billed_account(keyed)
    path = tmp_path / "bundle.jsonl"
    exported = run(env, "audit", "export", "--household", account, str(path))
    assert exported.exit_code == 0, exported.output
    assert "DEMO" in exported.stdout and "signed by" in exported.stdout  # the demo tariff's document
    replayed = replay_as_auditor(tmp_path, path, keyed / "audit-signing-key.pub.pem")
    assert replayed.exit_code == 0, replayed.output
    assert f"{bill_count} of {bill_count} bills match" in replayed.stdout
    assert replayed.stdout.count("✓") == bill_count and "✗" not in replayed.stdout
    assert not (tmp_path / "auditor").exists()  # nothing was opened or created there
    # On the utility's own machine the configured key is the trusted one by default.
    assert run(env, "audit", "replay", str(path)).exit_code == 0


def test_a_byte_changed_in_the_bundle_is_refused_with_exit_code_3(keyed: Path, bundle: Path, tmp_path: Path) -> None:
    content = bundle.read_bytes()
    at = content.index(b'"amount_yuan":"') + len(b'"amount_yuan":"')  # the first bill's amount in the header
    changed = bytearray(content)
    changed[at] = ord("9") if changed[at] != ord("9") else ord("1")
    bundle.write_bytes(bytes(changed))
    refused = replay_as_auditor(tmp_path, bundle, keyed / "audit-signing-key.pub.pem")
    assert refused.exit_code == BUNDLE_NOT_AUTHENTIC
    assert "changed after it was signed" in refused.output and "✓" not in refused.output


def test_a_bundle_signed_again_by_another_key_is_refused_with_exit_code_3(
    keyed: Path, bundle: Path, tmp_path: Path
) -> None:
    *content, _ = bundle.read_bytes().splitlines(keepends=True)
    resign(bundle, content, Ed25519PrivateKey.generate())
    refused = replay_as_auditor(tmp_path, bundle, keyed / "audit-signing-key.pub.pem")
    assert refused.exit_code == BUNDLE_NOT_AUTHENTIC
    assert "not by the trusted key" in refused.output


def test_a_bill_the_bundle_s_events_do_not_give_exits_1_with_a_cross_and_the_difference(
    keyed: Path, bundle: Path, tmp_path: Path
) -> None:
    """The bundle signed by the utility's own key after a household's area was changed (a signer's
    mistake): the prepayment is recomputed from the changed area and does not match."""
    *content, _ = bundle.read_bytes().splitlines(keepends=True)
    account = json.loads(content[0])["account"]
    at = next(
        index
        for index, line in enumerate(content)
        if b"Household.Registered" in line and f'\\"account_number\\":\\"{account}\\"'.encode() in line
    )
    # Both areas 100 m² more (which one a tariff bills by is the tariff's choice).
    area = rb'(_area_m2\\":\{\\"_type_\\":\\"decimal_str\\",\\"_data_\\":\\")([0-9])'
    content[at], changed = re.subn(area, rb"\g<1>1\g<2>", content[at])
    assert changed == 2
    resign(bundle, content, load_signing_key(keyed / "audit-signing-key.pem", owner_only=True))
    replayed = replay_as_auditor(tmp_path, bundle, keyed / "audit-signing-key.pub.pem")
    assert replayed.exit_code == BILLS_DIFFER, replayed.output
    assert "✗" in replayed.stdout and "→" in replayed.stdout


def test_bad_input_exits_2_in_one_line(env: dict[str, str], keyed: Path, bundle: Path, tmp_path: Path) -> None:  # noqa: F811
    unknown = run(env, "audit", "export", "--household", "NOBODY", str(tmp_path / "nobody.jsonl"))
    assert unknown.exit_code == BAD_INPUT and "NOBODY" in unknown.output
    in_the_way = run(
        env, "audit", "export", "--household", json.loads(bundle.read_bytes().splitlines()[0])["account"], str(bundle)
    )
    assert in_the_way.exit_code == BAD_INPUT and "--overwrite" in in_the_way.output
    not_a_bundle = tmp_path / "readings.csv"
    not_a_bundle.write_text("meter_serial,measured_at,energy_gj\n", encoding="utf-8")
    refused = run(env, "audit", "replay", str(not_a_bundle))
    assert refused.exit_code == BAD_INPUT and "not a heatledger-audit-bundle" in refused.output
    no_key = run(auditor_env(tmp_path), "audit", "replay", str(bundle))
    assert no_key.exit_code == BAD_INPUT and "--public-key" in no_key.output
    for line in (unknown.output, in_the_way.output, refused.output):
        assert "Traceback" not in line


def test_export_without_a_key_says_how_to_make_one(env: dict[str, str], demo_store: Path, tmp_path: Path) -> None:  # noqa: F811
    account, _ = first_billed_account(demo_store)
    refused = run(env, "audit", "export", "--household", account, str(tmp_path / "bundle.jsonl"))
    assert refused.exit_code == BAD_INPUT and "heatledger audit keygen" in refused.output
    assert not (tmp_path / "bundle.jsonl").exists()


def production_env(tmp_path: Path) -> dict[str, str]:
    return {
        "HEATLEDGER_ENVIRONMENT": "production",
        "HEATLEDGER_SECRET_KEY": "a-production-secret-of-at-least-32-characters",
        "HEATLEDGER_BACKEND": "postgres",
        "HEATLEDGER_POSTGRES_PORT": "1",
        "HEATLEDGER_DATA_DIR": str(tmp_path / "data"),
    }


def test_production_signs_only_with_a_configured_key_that_only_its_owner_reads(tmp_path: Path) -> None:
    arguments = ["audit", "export", "--household", "A-1", str(tmp_path / "bundle.jsonl")]
    unset = run(production_env(tmp_path), *arguments)
    assert unset.exit_code == BAD_INPUT and "HEATLEDGER_AUDIT_SIGNING_KEY_FILE" in unset.output
    key = tmp_path / "keys" / "bundle-key.pem"
    generate_signing_key(key)
    key.chmod(0o640)
    readable = run({**production_env(tmp_path), "HEATLEDGER_AUDIT_SIGNING_KEY_FILE": str(key)}, *arguments)
    assert readable.exit_code == BAD_INPUT and "chmod 600" in readable.output


def resign(path: Path, content: list[bytes], key: Ed25519PrivateKey) -> None:
    """Sign ``content`` by the documented format with ``key`` and write it with its signature."""
    digest = hashlib.sha256(b"".join(content)).hexdigest()
    public = key.public_key()
    signature = {
        "kind": "signature",
        "algorithm": "Ed25519",
        "digest_sha256": digest,
        "key_id": key_id(public),
        "public_key": public_key_text(public),
        "value": base64.b64encode(key.sign(SIGNED_PREFIX + digest.encode())).decode(),
    }
    path.write_bytes(b"".join(content) + json.dumps(signature, separators=(",", ":")).encode() + b"\n")
