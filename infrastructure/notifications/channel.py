"""What a delivery channel is to the dispatcher: something that sends one message and says how
it went, never raising for a refusal or an outage (the dispatcher still guards against it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from infrastructure.notifications.tables import MAXIMUM_DETAIL_LENGTH, DeliveryOutcome

if TYPE_CHECKING:
    from infrastructure.notifications.outbox import QueuedMessage


@dataclass(frozen=True)
class SendResult:
    """How one attempt went: ``delivered``, ``retry`` (try again later) or ``dead`` (refused for
    good); ``detail``: the HTTP status or the SMTP or connection error, for the delivery log."""

    outcome: DeliveryOutcome
    detail: str

    def __post_init__(self) -> None:
        assert self.outcome is not DeliveryOutcome.REQUEUED, "a channel never requeues"
        # The delivery log's column is bounded; a long server answer is cut, not refused.
        object.__setattr__(self, "detail", self.detail[:MAXIMUM_DETAIL_LENGTH])


class Channel(Protocol):
    """Sends one message (a webhook, SMTP)."""

    def send(self, message: QueuedMessage) -> SendResult:
        """Try to deliver the message once."""
        ...

    def close(self) -> None:
        """Release what the channel holds open between messages (a connection pool)."""
        ...
