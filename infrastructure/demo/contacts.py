"""Gives the demo households contacts in the erasable contact book, where reminders go.

Most households leave a mobile number for the utility's SMS gateway (the webhook channel); a few
per building an e-mail address, one of them in English; the owners of vacant flats who never
collected their keys, and one more household per building, leave none (so a dunning run shows
``dunning_no_contact`` once their bills are past due). Seeded like the rest of the demo.
Idempotent: a household that has a contact already keeps it (a clerk may have changed it).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from application.notifications import Contact, ContactChannel, MessageLanguage
from infrastructure.demo.community import DEFAULT_SEED
from infrastructure.demo.model import DemoCommunity
from infrastructure.demo.payments import FLATS_PER_BUILDING, keys_collected
from infrastructure.notifications.contacts import SqlContactBook

# The demo's gateway recipient ids: "DEMO-SMS-" and the household's four-digit ordinal. Not mobile
# numbers on purpose: China reserves no number range for fiction, and a demo store pointed at a
# real SMS gateway (HEATLEDGER_NOTIFICATION_WEBHOOK_URL) must not text anyone.
DEMO_MOBILE_PREFIX = "DEMO-SMS-"
# example.cn: the demo's e-mail domain, addresses nobody reads.
DEMO_EMAIL_DOMAIN = "example.cn"
# Per building: households with an e-mail contact (the first of them in English), and households
# without any contact besides the vacant flats whose keys were never collected.
EMAIL_CONTACTS_PER_BUILDING = 3
ENGLISH_EMAIL_CONTACTS_PER_BUILDING = 1
OTHERS_WITHOUT_CONTACT_PER_BUILDING = 1

# (what is being done, steps done, steps in all)
ContactProgress = Callable[[str, int, int], None]


@dataclass
class ContactsReport:
    """What the demo's contact book holds after a load, and what this load recorded."""

    households: int = 0
    webhook: int = 0
    email: int = 0
    without_contact: int = 0
    recorded: int = 0
    kept: int = 0


def plan_contacts(community: DemoCommunity, seed: int = DEFAULT_SEED) -> dict[str, Contact | None]:
    """Every demo household's contact (None: it left none), by account number."""
    planned: dict[str, Contact | None] = {}
    for building in community.buildings:
        households = [flat.household for flat in building.flats]
        first_ordinal = (int(building.name) - 1) * FLATS_PER_BUILDING + 1
        reachable = [household for household in households if keys_collected(household, seed)]
        random.Random(f"contacts:{seed}:{community.code}-{building.name}").shuffle(reachable)
        silent = {household.account_number for household in reachable[:OTHERS_WITHOUT_CONTACT_PER_BUILDING]}
        emailed = reachable[OTHERS_WITHOUT_CONTACT_PER_BUILDING:][:EMAIL_CONTACTS_PER_BUILDING]
        english = {household.account_number for household in emailed[:ENGLISH_EMAIL_CONTACTS_PER_BUILDING]}
        by_email = {household.account_number for household in emailed}
        for index, household in enumerate(households):
            account = household.account_number
            if account in silent or not keys_collected(household, seed):
                planned[account] = None
            elif account in by_email:
                language = MessageLanguage.EN if account in english else MessageLanguage.ZH
                planned[account] = Contact(account, ContactChannel.EMAIL, demo_email(account), language)
            else:
                mobile = demo_mobile(first_ordinal + index)
                planned[account] = Contact(account, ContactChannel.WEBHOOK, mobile, MessageLanguage.ZH)
    return planned


def demo_mobile(ordinal: int) -> str:
    """The demo gateway recipient id of the household with this ordinal (1 to 9999)."""
    assert 1 <= ordinal <= 9999, "four digits after the demo's prefix"
    return f"{DEMO_MOBILE_PREFIX}{ordinal:04d}"


def demo_email(account_number: str) -> str:
    """``bgy-1-1-0601@example.cn`` for the household ``BGY-1-1-0601``."""
    return f"{account_number.lower()}@{DEMO_EMAIL_DOMAIN}"


def record_demo_contacts(
    book: SqlContactBook,
    community: DemoCommunity,
    actor: str,
    progress: ContactProgress | None = None,
    seed: int = DEFAULT_SEED,
) -> ContactsReport:
    """Record the planned contacts of households that have none yet; what the book then holds."""
    planned = plan_contacts(community, seed)
    existing = book.contacts(list(planned))
    report = ContactsReport(households=len(planned))
    for done, (account, contact) in enumerate(planned.items(), start=1):
        held = existing.get(account)
        if held is None and contact is not None:
            book.set_contact(contact, actor)
            report.recorded += 1
            held = contact
        elif held is not None:
            report.kept += 1
        _count(report, held)
        if progress is not None:
            progress("contacts", done, len(planned))
    return report


def _count(report: ContactsReport, contact: Contact | None) -> None:
    if contact is None:
        report.without_contact += 1
    elif contact.channel is ContactChannel.EMAIL:
        report.email += 1
    else:
        report.webhook += 1
