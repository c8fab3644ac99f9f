"""The households' contact book in ``household_contacts``: where reminders go, and erasable.

A contact is personal data kept outside the event store, so a household's request to be
forgotten deletes its row and nothing else has to change (messages already written keep the
address they were sent to, as the record of what was sent).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, delete, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from application.notifications import Contact, ContactChannel, MessageLanguage
from domain.errors import InvalidInputError
from domain.values import bounded_text
from infrastructure.notifications.tables import (
    MAXIMUM_ACCOUNT_NUMBER_LENGTH,
    MAXIMUM_ACTOR_LENGTH,
    MAXIMUM_ADDRESS_LENGTH,
    MAXIMUM_HOLDER_NAME_LENGTH,
    household_contacts,
)

# One local part, an "@", a domain with at least one dot; no spaces or angle brackets (which
# would let an address smuggle a second recipient into a header). Deliberately loose: the mail
# server is the judge of what exists.
EMAIL_PATTERN = re.compile(r"[^@\s<>,;\"]{1,64}@[^@\s<>,;\"]+\.[^@\s<>,;\".]{2,63}")
# The gateway's recipient ids: mobile numbers (with "+"), openids (letters, digits, "_", "-").
WEBHOOK_ADDRESS_PATTERN = re.compile(r"[0-9A-Za-z+_.\-]{3,64}")
# SQL IN lists stay well under every driver's parameter limit.
LOOKUP_CHUNK = 500


class SqlContactBook:
    """``household_contacts``: read, set (insert or replace), forget."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def contacts(self, account_numbers: Sequence[str]) -> dict[str, Contact]:
        """The contacts of these households that have one, by account number."""
        wanted = sorted(set(account_numbers))
        found: dict[str, Contact] = {}
        with self.engine.connect() as connection:
            for start in range(0, len(wanted), LOOKUP_CHUNK):
                chunk = wanted[start : start + LOOKUP_CHUNK]
                query = select(household_contacts).where(household_contacts.c.account_number.in_(chunk))
                found.update((row.account_number, _contact(row)) for row in connection.execute(query))
        return found

    def contact(self, account_number: str) -> Contact | None:
        """The household's contact, or None when it has none."""
        return self.contacts([account_number]).get(account_number)

    def accounts_held_by(self, fragment: str) -> Select[Any]:
        """A select of the account numbers whose holder's name contains ``fragment`` (spaces left
        out, as 王 芳 and 王芳 are one name), for the household search to join."""
        name = re.sub(r"\s", "", fragment)
        assert name, "the caller asks for a fragment of at least one character"
        holder = func.replace(household_contacts.c.holder_name, " ", "")
        return select(household_contacts.c.account_number).where(holder.icontains(name, autoescape=True))

    def accounts_reached_at(self, fragment: str) -> Select[Any]:
        """A select of the account numbers whose contact address contains ``fragment`` (a phone
        number or its last digits, as a customer says it: spaces and dashes are left out), for the
        household search to join; it reads nothing by itself."""
        digits = re.sub(r"[\s\-]", "", fragment)
        assert digits, "the caller asks for a fragment of at least one character"
        address = household_contacts.c.address
        return select(household_contacts.c.account_number).where(address.icontains(digits, autoescape=True))

    def set_contact(self, contact: Contact, actor: str) -> Contact:
        """Record where the household's messages go (replacing what was there) and give back the
        contact as recorded (trimmed); the address is checked for its channel (InvalidInputError)."""
        checked = validated(contact)
        values = {
            "channel": checked.channel.value,
            "address": checked.address,
            "language": checked.language.value,
            "holder_name": checked.holder_name or None,
            "updated_at": self.clock(),
            "updated_by": bounded_text(actor, "actor", MAXIMUM_ACTOR_LENGTH),
        }
        # Update, then insert when there was nothing to update: portable across SQLite and
        # PostgreSQL. When two clerks insert the same new contact at once, the loser's insert
        # fails on the key and its second try updates: the last one written stands, as for any PUT.
        key = household_contacts.c.account_number == checked.account_number
        for attempt in range(2):
            try:
                with self.engine.begin() as connection:
                    if connection.execute(update(household_contacts).where(key).values(**values)).rowcount == 0:
                        connection.execute(
                            insert(household_contacts).values(account_number=checked.account_number, **values)
                        )
                return checked
            except IntegrityError:
                if attempt:
                    raise
        raise AssertionError("unreachable: the second attempt returns or raises")

    def forget(self, account_number: str, actor: str) -> bool:
        """Erase the household's contact (on its request); False when it had none. ``actor`` is
        checked and logged by the caller: the book keeps nothing of an erased contact."""
        bounded_text(actor, "actor", MAXIMUM_ACTOR_LENGTH)
        with self.engine.begin() as connection:
            query = delete(household_contacts).where(household_contacts.c.account_number == account_number)
            return connection.execute(query).rowcount > 0


def validated(contact: Contact) -> Contact:
    """The contact with its account number and address trimmed; InvalidInputError when the
    address does not suit the channel (an e-mail address for e-mail, a gateway id for the webhook)."""
    account_number = bounded_text(contact.account_number, "account_number", MAXIMUM_ACCOUNT_NUMBER_LENGTH)
    address = bounded_text(contact.address, "address", MAXIMUM_ADDRESS_LENGTH)
    channel = ContactChannel(contact.channel)
    pattern = EMAIL_PATTERN if channel is ContactChannel.EMAIL else WEBHOOK_ADDRESS_PATTERN
    if not pattern.fullmatch(address):
        raise InvalidInputError(
            f"{address!r} is not a valid {channel.value} address",
            message_key="contact_address_invalid",
            field="address",
            channel=channel.value,
        )
    # A name typed with stray or doubled spaces is one name: kept with single spaces.
    holder_name = bounded_text(" ".join(contact.holder_name.split()), "holder_name", MAXIMUM_HOLDER_NAME_LENGTH, False)
    return Contact(account_number, channel, address, MessageLanguage(contact.language), holder_name)


def _contact(row: Row[Any]) -> Contact:
    return Contact(
        account_number=row.account_number,
        channel=ContactChannel(row.channel),
        address=row.address,
        holder_name=row.holder_name or "",
        language=MessageLanguage(row.language),
    )
