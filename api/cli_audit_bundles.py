"""The ``heatledger audit`` commands for bundles: ``keygen`` creates the Ed25519 key that signs
them, ``export`` writes a household's signed bundle, ``replay`` re-derives its bills from the file
alone, without the database (docs/audit.md, "Bundles").

Registered on the ``audit`` sub-app of ``api.cli_audit``. Exit codes of ``replay``: 0 every bill
matches; 1 a bill differs; 2 bad input (a file that cannot be read or is not a bundle, a missing
key); 3 the bundle is not what the trusted key signed (changed, truncated, signed by another key),
as ``audit verify`` exits 3 on a broken chain. ``export`` and ``keygen``: 0 done, 1 the store
cannot be reached, 2 bad input (an unknown household, a missing or unsafe key, a file in the way).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from api.cli import MAXIMUM_TABLE_ROWS, fail, load_settings, opened_container, out, progress_bar
from api.cli_audit import audit_app
from domain.day_split import business_day
from infrastructure import bill_replay
from infrastructure.audit_bundles import (
    BillCheck,
    BundleError,
    BundleReplay,
    BundleSignatureError,
    ExportedBundle,
    Progress,
    SigningKeyError,
    export_bundle,
    generate_signing_key,
    key_id,
    load_public_key,
    load_signing_key,
    public_key_path,
    public_key_text,
    replay_bundle,
)
from infrastructure.settings import Backend, Environment, Settings

BILLS_DIFFER = 1
BAD_INPUT = 2
BUNDLE_NOT_AUTHENTIC = 3
DEFAULT_KEY_FILE_NAME = "audit-signing-key.pem"

KeyFileOption = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        help="The private key file (default: HEATLEDGER_AUDIT_SIGNING_KEY_FILE, else data_dir/audit-signing-key.pem).",
        show_default=False,
    ),
]


def signing_key_file(settings: Settings, given: Path | None = None) -> Path:
    """The signing key's file: given, configured, or the data folder's (not in production)."""
    if given is not None:
        return given
    if settings.audit_signing_key_file is not None:
        return settings.audit_signing_key_file
    if settings.environment is Environment.PRODUCTION:
        fail("production signs audit bundles only with a key it was given: set HEATLEDGER_AUDIT_SIGNING_KEY_FILE")
    return settings.data_dir / DEFAULT_KEY_FILE_NAME


@contextmanager
def progress_reporter(console: Console) -> Iterator[Progress]:
    """A progress bar whose task follows the stage an export or replay reports."""
    with progress_bar(console) as progress:
        task = progress.add_task("starting", total=None)

        def advance(stage: str, done: int, total: int) -> None:
            progress.update(task, description=stage, completed=done, total=total or None)

        yield advance


# -- keygen -----------------------------------------------------------------------------------


@audit_app.command("keygen")
def audit_keygen(key_file: KeyFileOption = None) -> None:
    """Create the Ed25519 key that signs audit bundles (never replacing one), and print its public
    half: give that (or the .pub.pem file written beside the key) to whoever checks bundles."""
    path = signing_key_file(load_settings(), key_file)
    try:
        public_key = generate_signing_key(path)
    except SigningKeyError as error:
        fail(str(error))
    except OSError as error:
        fail(f"cannot write {path}: {error.strerror or error}")
    console = out()
    console.print(f"Signing key written to {escape(str(path))} (readable by its owner only).")
    console.print(f"Public key written to {escape(str(public_key_path(path)))}.")
    console.print(f"Key id: {key_id(public_key)}")
    console.print(f"Public key (base64): {public_key_text(public_key)}")


# -- export -----------------------------------------------------------------------------------


@audit_app.command("export")
def audit_export(
    file: Annotated[Path, typer.Argument(help="The bundle to write (JSON Lines).", show_default=False)],
    household: Annotated[str, typer.Option("--household", help="The household's account number.", show_default=False)],
    key_file: KeyFileOption = None,
    overwrite: Annotated[bool, typer.Option(help="Replace FILE if it exists.")] = False,
) -> None:
    """Write a signed bundle of a household's events (and its building's, when it has a monthly
    statement) and the tariff versions its bills used, for `heatledger audit replay`."""
    settings = load_settings()
    key = _signing_key(settings, key_file)
    if file.exists() and not overwrite:
        fail(f"{file} exists: give --overwrite to replace it")
    console = out()
    with opened_container() as container, progress_reporter(console) as progress:
        # The scope is found through the read models (bills, payments, the building's households):
        # they must hold every event stored so far (production's workers may lag behind).
        container.catch_up()
        now = container.ledger.clock()
        try:
            exported = export_bundle(
                container.ledger,
                container.engine,
                household,
                file,
                key,
                today=business_day(now),
                exported_at=now,
                ledger=_ledger_identity(settings, container.ledger.name),
                progress=progress,
            )
        except OSError as error:
            fail(f"cannot write {file}: {error.strerror or error}")
    console.print(_export_table(exported))


def _signing_key(settings: Settings, given: Path | None) -> Ed25519PrivateKey:
    path = signing_key_file(settings, given)
    try:
        return load_signing_key(path, owner_only=settings.environment is Environment.PRODUCTION)
    except SigningKeyError as error:
        fail(str(error))


def _ledger_identity(settings: Settings, application: str) -> dict[str, str]:
    """Which ledger exported the bundle: the application, the utility and the store."""
    if settings.backend is Backend.SQLITE:
        store = f"sqlite:{settings.sqlite_path.resolve()}"
    else:
        store = f"postgres://{settings.postgres_host}:{settings.postgres_port}/{settings.postgres_dbname}"
    return {"application": application, "utility": settings.utility_name, "store": store}


def _export_table(exported: ExportedBundle) -> Table:
    table = Table(title=f"Audit bundle of {escape(exported.account_number)}", show_header=False)
    table.add_column("what")
    table.add_column("value")
    table.add_row("file", escape(str(exported.path)))
    households = len(exported.accounts)
    table.add_row("scope", f"{exported.scope} ({households} household{'s' if households != 1 else ''})")
    table.add_row("events", str(exported.event_count))
    table.add_row("bills", str(exported.bill_count))
    for tariff in exported.tariffs:
        table.add_row("tariff", escape(f"{tariff.document_number} (scope {tariff.scope}, version {tariff.version})"))
    table.add_row("size", f"{exported.size_bytes} bytes")
    table.add_row("SHA-256", exported.digest_sha256)
    table.add_row("signed by", exported.key_id)
    return table


# -- replay -----------------------------------------------------------------------------------


@audit_app.command("replay")
def audit_replay(
    file: Annotated[Path, typer.Argument(help="A bundle from `heatledger audit export`.", show_default=False)],
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="The signer's public key (PEM or base64); default: the configured signing key's.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check the bundle's signature, then re-derive each of the household's bills from the bundle's
    events alone (no database) and say whether each equals the issued bill to the fen."""
    trusted = _trusted_key(public_key)
    console = out()
    try:
        with progress_reporter(console) as progress, _replay_defects_in_the_table_only():
            replayed = replay_bundle(file, trusted, progress)
    except BundleSignatureError as error:
        fail(f"{file} is refused: {error}", BUNDLE_NOT_AUTHENTIC)
    except BundleError as error:
        fail(f"{file}: {error}")
    console.print(_replay_table(replayed))
    differing = sum(1 for check in replayed.checks if not check.matches)
    console.print(
        f"Signature by {replayed.key_id} verified; {replayed.event_count} events; "
        f"{len(replayed.checks) - differing} of {len(replayed.checks)} bills match."
    )
    if differing:
        raise typer.Exit(BILLS_DIFFER)


@contextmanager
def _replay_defects_in_the_table_only() -> Iterator[None]:
    """The bill replay logs a bill that does not match as an error (the API's replay is watched by
    operators); here the table reports each difference, so the log's copy would only repeat it."""
    replay_logger = logging.getLogger(bill_replay.__name__)
    level = replay_logger.level
    replay_logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        replay_logger.setLevel(level)


def _trusted_key(given: Path | None) -> Ed25519PublicKey:
    """The key a bundle must be signed by: the one given, else the configured signing key's."""
    try:
        if given is not None:
            return load_public_key(given)
        path = signing_key_file(load_settings())
        public_path = public_key_path(path)
        if public_path.exists():
            return load_public_key(public_path)
        return load_signing_key(path, owner_only=False).public_key()
    except SigningKeyError as error:
        fail(f"{error} (give the signer's public key with --public-key)")


def _replay_table(replayed: BundleReplay) -> Table:
    table = Table(title=f"Bills of {escape(replayed.account_number)} replayed from the bundle")
    # Amounts stay on one line; a long bill number folds; the differences (shown only when a bill
    # differs) wrap in what width is left.
    shown = replayed.checks[:MAXIMUM_TABLE_ROWS]
    with_differences = any(check.differences for check in shown)
    table.add_column("bill", overflow="fold")
    table.add_column("kind", overflow="fold")
    table.add_column("issued 元", justify="right", no_wrap=True)
    table.add_column("replayed 元", justify="right", no_wrap=True)
    table.add_column("match", justify="center", no_wrap=True)
    if with_differences:
        table.add_column("differences", overflow="fold")
    for check in shown:
        table.add_row(*_row(check)[: 6 if with_differences else 5])
    if len(replayed.checks) > MAXIMUM_TABLE_ROWS:
        table.add_row(f"… {len(replayed.checks) - MAXIMUM_TABLE_ROWS} more")
    return table


def _row(check: BillCheck) -> tuple[str, ...]:
    mark = "[green]✓[/]" if check.matches else "[bold red]✗[/]"
    return (
        escape(check.number),
        check.kind,
        _yuan(check.issued_amount_yuan),
        _yuan(check.replayed_amount_yuan),
        mark,
        escape("\n".join(check.differences)),
    )


def _yuan(amount: Decimal | None) -> str:
    return "—" if amount is None else f"{amount.quantize(Decimal('0.01')):,}"
