"""The MQTT topic schema of room controllers (docs/valves.md, "Topics and payloads").

One device, three topics under a versioned prefix (``heatledger/v1`` by default)::

    {prefix}/devices/{device_id}/commands   down: the ledger's commands to the device (QoS 1)
    {prefix}/devices/{device_id}/acks       up:   the device accepts or refuses a command (QoS 1)
    {prefix}/devices/{device_id}/reports    up:   room temperature, valve state, ... (QoS 1)

The version in the prefix lets a later payload schema live beside this one while devices are
upgraded. A device id is one topic level: printable, no ``/``, ``+`` or ``#`` (MQTT's separators
and wildcards), at most 64 characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_PREFIX = "heatledger/v1"
MAXIMUM_DEVICE_ID_LENGTH = 64
# Printable, without the topic separator and wildcards, without spaces (a serial has none).
DEVICE_ID_PATTERN = re.compile(r"^[^\x00-\x20\x7f/+#]{1,64}$")
_PREFIX_PATTERN = re.compile(r"^[^\x00-\x1f\x7f/+#]+(/[^\x00-\x1f\x7f/+#]+)*$")


class Channel(StrEnum):
    """The last level of a device topic: what the message is."""

    COMMANDS = "commands"
    ACKS = "acks"
    REPORTS = "reports"


class TopicError(ValueError):
    """A topic outside the schema, or a device id that cannot be one topic level."""


def valid_device_id(device_id: str) -> str:
    """``device_id`` if it can be one topic level; TopicError otherwise."""
    if not DEVICE_ID_PATTERN.match(device_id):
        raise TopicError(f"a device id is 1-{MAXIMUM_DEVICE_ID_LENGTH} printable characters without / + # or spaces")
    return device_id


@dataclass(frozen=True)
class DeviceTopic:
    """A parsed device topic: which device, which channel."""

    device_id: str
    channel: Channel


@dataclass(frozen=True)
class TopicScheme:
    """The topics under one prefix: building them for a device, and reading one back."""

    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if not _PREFIX_PATTERN.match(self.prefix) or self.prefix.endswith("/"):
            raise TopicError(f"not a topic prefix: {self.prefix!r}")

    def topic(self, device_id: str, channel: Channel) -> str:
        return f"{self.prefix}/devices/{valid_device_id(device_id)}/{channel.value}"

    def commands(self, device_id: str) -> str:
        return self.topic(device_id, Channel.COMMANDS)

    def acks(self, device_id: str) -> str:
        return self.topic(device_id, Channel.ACKS)

    def reports(self, device_id: str) -> str:
        return self.topic(device_id, Channel.REPORTS)

    def every_device(self, channel: Channel) -> str:
        """The subscription to one channel of every device (``+`` matches one level)."""
        return f"{self.prefix}/devices/+/{channel.value}"

    def parse(self, topic: str) -> DeviceTopic:
        """The device and channel of ``topic``; TopicError for any topic outside the schema."""
        head = f"{self.prefix}/devices/"
        if not topic.startswith(head):
            raise TopicError(f"not under {head}: {topic!r}")
        levels = topic[len(head) :].split("/")
        if len(levels) != 2:
            raise TopicError(f"not {head}<device>/<channel>: {topic!r}")
        device_id, channel = levels
        try:
            return DeviceTopic(valid_device_id(device_id), Channel(channel))
        except ValueError as error:
            raise TopicError(f"not a device topic: {topic!r} ({error})") from None
