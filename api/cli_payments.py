"""The ``heatledger payments`` commands: what an operator configures at an online payment provider.

Registered on the main ``heatledger`` app by ``api.cli``; it uses that module's plumbing (the
settings, one-line failures).
"""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli import app, fail, load_settings, opened_container, operator, out
from infrastructure.online_payments import ADAPTERS, OnlinePayments, merchant_key

payments_app = typer.Typer(
    help="Online payments: the providers' merchant keys, expiring orders nobody paid.", no_args_is_help=True
)
app.add_typer(payments_app, name="payments")


@payments_app.command("merchant-key")
def payments_merchant_key(
    provider: Annotated[str, typer.Argument(help="The provider, as in its notification URL (e.g. hmac-json).")],
) -> None:
    """Print a provider's merchant key, to configure at the provider (docs/payments.md).

    The key is derived from HEATLEDGER_SECRET_KEY and the provider's name; nothing is stored, and
    rotating the secret key changes it.
    """
    if provider not in ADAPTERS:
        fail(f"no payment provider {provider}; the providers are: {', '.join(sorted(ADAPTERS))}")
    console = out()
    console.print(f"The merchant key of {provider}:", markup=False)
    console.print(merchant_key(load_settings().secret_key, provider), soft_wrap=True, markup=False)
    console.print(
        f"The provider notifies POST /payments/notify/{provider}, signing as docs/payments.md explains.", markup=False
    )


@payments_app.command("expire-orders")
def payments_expire_orders() -> None:
    """Expire the open payment orders whose validity (2 hours) has passed (docs/payments.md).

    Run it from cron or a timer, e.g. every 10 minutes; each run expires at most 500 orders and
    records who ran it. A provider that notifies an expired order anyway has the order flagged for
    a clerk, never booked silently."""
    with opened_container() as container:
        online = OnlinePayments(container.engine, container.ledger, container.settings.secret_key)
        expired = online.orders_service.expire_overdue(operator())
    out().print(f"{len(expired)} payment orders expired.", markup=False)
