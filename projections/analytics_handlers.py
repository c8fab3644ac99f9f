"""Projection handlers of the Substation aggregate (issue 15): each configuration and its places."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, insert, select

from domain import ids
from domain.substation import Substation
from projections.tables import substation_configurations, substation_feeds


def _configured(connection: Connection, event: Substation.Registered | Substation.Reconfigured) -> None:
    """A configuration in force from its day, and the places it feeds."""
    name = event.name if isinstance(event, Substation.Registered) else None
    if name is None:
        # A reconfiguration carries no name: the first configuration's row has it.
        name = connection.execute(
            select(substation_configurations.c.name)
            .where(substation_configurations.c.substation_id == event.originator_id)
            .limit(1)
        ).scalar_one()
    connection.execute(
        insert(substation_configurations).values(
            substation_id=event.originator_id,
            effective_on=event.effective_on,
            name=name,
            heat_source=event.heat_source,
            meter_serial=event.meter_serial,
            meter_id=ids.meter_id(event.meter_serial),
            recorded_at=event.timestamp,
            actor=event.actor,
            reason=event.reason,
        )
    )
    connection.execute(
        insert(substation_feeds),
        [
            {
                "substation_id": event.originator_id,
                "effective_on": event.effective_on,
                "community": feed["community"],
                "building": feed["building"],
            }
            for feed in event.feeds
        ],
    )


def _handle(connection: Connection, event: Any) -> UUID | None:
    _configured(connection, event)
    return None


ANALYTICS_HANDLERS: dict[type[Any], Callable[[Connection, Any], UUID | None]] = {
    Substation.Registered: _handle,
    Substation.Reconfigured: _handle,
}
