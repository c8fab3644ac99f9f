"""The Substation aggregate (换热站): what it is fed from, which meter measures it, what it feeds.

A substation takes heat from a heat source over the primary network and feeds, over the secondary
network, whole communities or some buildings of one (domain.md §1, §8: Country Garden and 长河湾
share one). Its primary-side meter (kind ``substation_primary``) measures what it takes; the
household meters of the places it feeds measure what arrived. The difference is the heat lost in
the substation and the secondary network (issue 15).

What it feeds changes (a new community connected, buildings moved to another station): every
change is a configuration in force from its day, recorded with who and why; earlier
configurations stay, so a past season's loss is computed on the network as it was then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import ids
from domain.analytics_baseline import EVERY_SOURCE, MAXIMUM_SOURCE_LENGTH
from domain.errors import ConflictError, InvalidInputError
from domain.values import MAXIMUM_NAME_LENGTH, CommandContext, bounded_text

MAXIMUM_FEEDS = 200  # a station feeds a few communities, or a few dozen buildings
MAXIMUM_KEY_LENGTH = 64


@dataclass(frozen=True)
class Feed:
    """A place a substation feeds: a whole community (``building`` empty) or one building of it."""

    community: str
    building: str = ""

    def covers(self, community: str, building: str) -> bool:
        return self.community == community and self.building in ("", building)

    def to_record(self) -> dict[str, str]:
        return {"community": self.community, "building": self.building}


@dataclass(frozen=True)
class Configuration:
    """What a substation is from ``effective_on``: its heat source, its meter, the places it feeds."""

    effective_on: date
    heat_source: str
    meter_serial: str
    feeds: tuple[Feed, ...]
    actor: str
    reason: str


class Substation(Aggregate):
    """A substation and every configuration it had."""

    class Registered(Aggregate.Created):
        name: str
        effective_on: date
        heat_source: str
        meter_serial: str
        feeds: list[dict[str, str]]
        actor: str
        reason: str
        correlation_id: UUID

    class Reconfigured(Aggregate.Event):
        effective_on: date
        heat_source: str
        meter_serial: str
        feeds: list[dict[str, str]]
        actor: str
        reason: str
        correlation_id: UUID

    @staticmethod
    def create_id(name: str) -> UUID:
        return ids.substation_id(name)

    @event(Registered)
    def __init__(
        self,
        name: str,
        effective_on: date,
        heat_source: str,
        meter_serial: str,
        feeds: list[dict[str, str]],
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self.name = name
        self.configurations: list[Configuration] = []
        self._apply(effective_on, heat_source, meter_serial, feeds, actor, reason, correlation_id)

    @classmethod
    def register(
        cls,
        name: str,
        effective_on: date,
        heat_source: str,
        meter_serial: str,
        feeds: list[Feed],
        context: CommandContext,
    ) -> Substation:
        """A substation from ``effective_on`` (checked: its name, meter, source and feeds)."""
        checked = _checked_configuration(heat_source, meter_serial, feeds)
        return cls(
            name=bounded_text(name, "name", MAXIMUM_NAME_LENGTH),
            effective_on=effective_on,
            **checked,
            **_context_fields(context),
        )

    def reconfigure(
        self, effective_on: date, heat_source: str, meter_serial: str, feeds: list[Feed], context: CommandContext
    ) -> None:
        """A new configuration from ``effective_on``, after the latest one's day (history is not
        rewritten: a mistaken configuration is corrected by the next one)."""
        latest = self.configurations[-1].effective_on
        if effective_on <= latest:
            raise ConflictError(
                f"a new configuration of {self.name} takes effect after {latest.isoformat()}",
                message_key="substation_configuration_not_later",
                substation=self.name,
                effective_on=latest.isoformat(),
            )
        checked = _checked_configuration(heat_source, meter_serial, feeds)
        self._reconfigured(effective_on=effective_on, **checked, **_context_fields(context))

    @event(Reconfigured)
    def _reconfigured(
        self,
        effective_on: date,
        heat_source: str,
        meter_serial: str,
        feeds: list[dict[str, str]],
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self._apply(effective_on, heat_source, meter_serial, feeds, actor, reason, correlation_id)

    def _apply(
        self,
        effective_on: date,
        heat_source: str,
        meter_serial: str,
        feeds: list[dict[str, str]],
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        places = tuple(Feed(str(feed["community"]), str(feed["building"])) for feed in feeds)
        self.configurations.append(Configuration(effective_on, heat_source, meter_serial, places, actor, reason))

    def in_force(self, day: date) -> Configuration | None:
        """The configuration in force on ``day`` (None before the substation was registered)."""
        found = None
        for configuration in self.configurations:
            if configuration.effective_on <= day:
                found = configuration
        return found


def _context_fields(context: CommandContext) -> dict[str, Any]:
    return {"actor": context.actor, "reason": context.reason, "correlation_id": context.correlation_id}


def _checked_configuration(heat_source: str, meter_serial: str, feeds: list[Feed]) -> dict[str, Any]:
    """The configuration's fields as event payload: one to 200 places, none twice, a building
    not beside its whole community."""
    if not 0 < len(feeds) <= MAXIMUM_FEEDS:
        raise InvalidInputError(
            f"a substation feeds one to {MAXIMUM_FEEDS} places", message_key="substation_feeds_invalid", field="feeds"
        )
    places = [
        Feed(
            bounded_text(feed.community, "community", MAXIMUM_NAME_LENGTH),
            bounded_text(feed.building, "building", MAXIMUM_KEY_LENGTH, required=False),
        )
        for feed in feeds
    ]
    whole = {place.community for place in places if not place.building}
    if len(set(places)) != len(places) or any(place.building and place.community in whole for place in places):
        raise InvalidInputError(
            "a place is named twice, or a building beside its whole community",
            message_key="substation_feeds_overlap",
            field="feeds",
        )
    return {
        "heat_source": bounded_text(heat_source or EVERY_SOURCE, "heat_source", MAXIMUM_SOURCE_LENGTH),
        "meter_serial": bounded_text(meter_serial, "meter_serial", MAXIMUM_KEY_LENGTH),
        "feeds": [place.to_record() for place in places],
    }
