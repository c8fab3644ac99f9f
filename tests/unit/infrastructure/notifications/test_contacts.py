"""Which addresses the contact book accepts for each channel."""

from __future__ import annotations

import pytest

from application.notifications import Contact, ContactChannel, MessageLanguage
from domain.errors import InvalidInputError
from infrastructure.notifications.contacts import validated


@pytest.mark.parametrize(
    ("channel", "address"),
    [
        (ContactChannel.EMAIL, "wang.fang@example.cn"),
        (ContactChannel.EMAIL, "li+heat@mail.heat-co.com.cn"),
        (ContactChannel.WEBHOOK, "+8613800138000"),
        (ContactChannel.WEBHOOK, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"),
        (ContactChannel.WEBHOOK, "a.b"),
    ],
)
def test_addresses_that_suit_their_channel_are_kept_trimmed(channel: ContactChannel, address: str) -> None:
    contact = validated(Contact(" 0101-0203 ", channel, f" {address} ", MessageLanguage.ZH))

    assert contact == Contact("0101-0203", channel, address, MessageLanguage.ZH)


@pytest.mark.parametrize(
    ("channel", "address", "message_key"),
    [
        (ContactChannel.EMAIL, "wang.fang", "contact_address_invalid"),
        (ContactChannel.EMAIL, "wang@localhost", "contact_address_invalid"),
        (ContactChannel.EMAIL, "a@b@example.cn", "contact_address_invalid"),
        (ContactChannel.EMAIL, "wang fang@example.cn", "contact_address_invalid"),
        (ContactChannel.EMAIL, "x@example.cn>, <y@example.cn", "contact_address_invalid"),
        (ContactChannel.EMAIL, "", "text_length"),
        (ContactChannel.EMAIL, "a" * 250 + "@x.cn", "text_length"),
        (ContactChannel.WEBHOOK, "ab", "contact_address_invalid"),
        (ContactChannel.WEBHOOK, "a" * 65, "contact_address_invalid"),
        (ContactChannel.WEBHOOK, "138 0013 8000", "contact_address_invalid"),
        (ContactChannel.WEBHOOK, "王芳", "contact_address_invalid"),
        (ContactChannel.WEBHOOK, "wang@example.cn", "contact_address_invalid"),
    ],
)
def test_addresses_that_do_not_suit_their_channel_are_refused(
    channel: ContactChannel, address: str, message_key: str
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        validated(Contact("0101-0203", channel, address, MessageLanguage.EN))

    assert refused.value.message_key == message_key
    assert refused.value.params["field"] == "address"
