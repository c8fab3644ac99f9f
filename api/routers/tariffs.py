"""Tariffs: effective-dated versions of the two-part heat price, per customer class and scope."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote
from uuid import uuid4

from fastapi import Depends, Path, Response

from api.auth import Caller, Reader
from api.dependencies import ContainerDependency
from api.problems import problem_responses
from api.routers import resource_router
from api.schemas.billing import TariffList, TariffPublication, TariffVersionOutput
from api.schemas.common import NAME_MAX_LENGTH
from domain.errors import NotFoundError
from domain.values import CustomerClass
from projections.billing_queries import BillingQueries

router = resource_router("/tariffs", "tariffs")

DEFAULT_REASON = "tariff approved by the price bureau"
ScopePath = Annotated[str, Path(max_length=NAME_MAX_LENGTH, description='A community, or "*" for the whole city')]


def get_billing_queries(container: ContainerDependency) -> BillingQueries:
    """Reads of the billing read models: bills, balances, tariffs."""
    return BillingQueries(container.engine)


BillingReads = Annotated[BillingQueries, Depends(get_billing_queries)]


def tariff_location(customer_class: str, scope: str) -> str:
    """The URL path of a tariff's versions."""
    return f"/tariffs/{quote(customer_class, safe='')}/{quote(scope, safe='')}"


@router.post(
    "",
    status_code=201,
    operation_id="publish_tariff",
    response_model=TariffVersionOutput,
    responses=problem_responses(401, 403, 409, 422),
)
def publish_tariff(
    publication: TariffPublication, caller: Caller, container: ContainerDependency, response: Response
) -> TariffVersionOutput:
    """Publish a tariff version (administrators), from the price bureau's approved document.

    The version governs every season whose first day it covers, for the customer class in the
    community (`scope`), or in every community without its own tariff (`scope` `*`). Answers 201
    with the version and the tariff's address in `Location`; a version overlapping a published
    one is a 409, a negative price or a share outside 0–100 % a 422 naming the field.
    """
    reason = publication.reason or DEFAULT_REASON
    version = container.billing.publish_tariff(
        caller,
        publication.customer_class,
        publication.scope,
        publication.terms(),
        publication.effective_from,
        publication.effective_until,
        publication.document_number,
        publication.approved_on,
        reason=reason,
        correlation_id=uuid4(),
    )
    response.headers["Location"] = tariff_location(publication.customer_class.value, publication.scope)
    return TariffVersionOutput.from_version(
        publication.customer_class.value, publication.scope, version, caller.name, reason
    )


@router.get("", operation_id="list_tariffs", response_model=TariffList, responses=problem_responses(401, 403))
def list_tariffs(reader: Reader, queries: BillingReads) -> TariffList:
    """Every published version, by customer class, scope and version number."""
    return TariffList(items=[TariffVersionOutput.from_record(record) for record in queries.tariffs()])


@router.get(
    "/{customer_class}/{scope}",
    operation_id="get_tariff",
    response_model=TariffList,
    responses=problem_responses(401, 403, 404, 422),
)
def get_tariff(customer_class: CustomerClass, scope: ScopePath, reader: Reader, queries: BillingReads) -> TariffList:
    """The versions of one tariff (a customer class in a community, or `*` for the city), oldest first."""
    records = queries.tariff_versions(customer_class.value, scope)
    if not records:
        raise NotFoundError(
            f"no tariff for {customer_class.value} in {scope}", kind="tariff", key=f"{customer_class.value} {scope}"
        )
    return TariffList(items=[TariffVersionOutput.from_record(record) for record in records])
