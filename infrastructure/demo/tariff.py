"""The demo community's tariff: a Ningxia-style two-part price, refund only (多退少不补, as
Yinchuan settles), base part 30 % of the area fee, the source's position coefficients.

The document number is marked as a demo: no price bureau approved these figures.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from application.authorization import Principal
from application.billing import Billing
from domain.errors import NotFoundError
from domain.season import Season
from domain.settlement import PositionCorrection, SettlementPolicy, TwoPartPrice
from domain.tariff import BilledArea, BrokenMeterMethod, TariffTerms
from domain.values import CustomerClass

DEMO_DOCUMENT_NUMBER = "DEMO 宁价〔示例〕1号"

DEMO_TERMS = TariffTerms(
    price=TwoPartPrice(
        area_price_yuan_per_m2=Decimal("22.80"),  # 3.80 元/m² a month over six months
        base_share_percent=Decimal(30),
        # Xuchang's 43.9 元/GJ (domain.md §6): about 70 % of the demo's flats pay less than by area,
        # as 68 % did in the source's Country Garden pilot.
        energy_price_yuan_per_gj=Decimal("43.90"),
        policy=SettlementPolicy.REFUND_ONLY,
        suspension_share_percent=Decimal(20),
        position_correction=PositionCorrection.ENERGY,
    ),
    billed_area=BilledArea.CONNECTED,
    broken_meter_share_percent=Decimal(10),
    broken_meter_method=BrokenMeterMethod.AREA,
)


def publish_demo_tariff(billing: Billing, operator: Principal, season: Season) -> bool:
    """Publish the demo tariff city-wide from a year before the season (for both customer classes);
    False when it was published already."""
    published = False
    for customer_class in CustomerClass:
        try:
            tariff = billing.tariff(customer_class, "*")
        except NotFoundError:
            tariff = None
        if tariff is not None and tariff.in_force_on(season.first_day) is not None:
            continue
        terms = DEMO_TERMS
        if customer_class is CustomerClass.NON_RESIDENTIAL:
            terms = TariffTerms(
                price=TwoPartPrice(
                    area_price_yuan_per_m2=Decimal("35.00"),
                    base_share_percent=Decimal(30),
                    energy_price_yuan_per_gj=Decimal("62.00"),
                    policy=SettlementPolicy.METERED_ONLY,
                ),
            )
        effective_from = date(season.first_day.year - 1, 10, 1)
        billing.publish_tariff(
            operator,
            customer_class,
            "*",
            terms,
            effective_from,
            None,
            DEMO_DOCUMENT_NUMBER,
            date(season.first_day.year - 1, 9, 1),
            reason="demo tariff",
        )
        published = True
    return published
