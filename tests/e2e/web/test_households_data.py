"""The households pages' parts that need no browser: the words of every value a page names by a
computed key (the catalogue test sees literal keys only), the search text read into address parts
(a property over any address), and the search answering with the flats it was given."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.i18n import Language, catalogue, has_message
from api.routers.households import find_households
from api.schemas.households import HouseholdFilter
from api.web.pages import households as pages
from application.authorization import Principal, Role
from application.notifications import ContactChannel, MessageLanguage
from domain.billing import BillKind
from domain.dispute import DisputeCategory, DisputeState
from domain.errors import PermissionDeniedError
from domain.payment import PaymentChannel
from domain.values import CustomerClass, HorizontalPosition, VerticalPosition
from infrastructure.container import Container
from projections.household_search import AddressPart, HouseholdSearch, SearchTerm, search_households, search_terms
from tests.e2e.conftest import LedgerApi

# Every family of keys a template builds from a value (``"web.households.state." ~ view.state``).
COMPUTED_KEYS = {
    "class": [value.value for value in CustomerClass],
    "position.vertical": [value.value for value in VerticalPosition],
    "position.horizontal": [value.value for value in HorizontalPosition],
    "bill_kind": [value.value for value in BillKind],
    "charge_kind": ["bill", "refund_payout", *(value.value for value in BillKind)],
    "credit_kind": ["payment", "settlement_credit"],
    "channel": [value.value for value in PaymentChannel],
    "contact_channel": [value.value for value in ContactChannel],
    "message_language": [value.value for value in MessageLanguage],
    "dispute_category": [value.value for value in DisputeCategory],
    "dispute_state": [value.value for value in DisputeState],
    "state": ["supplied", "suspended", "deregistered"],
    "done": list(pages.ACTIONS),
    "actions": ["area_correction", "suspension", "resumption", "owner_change"],
    "consumption.by": ["month", "day"],
}


def test_every_value_a_page_names_has_words_in_both_languages() -> None:
    missing = [
        f"web.households.{family}{'_' if family == 'consumption.by' else '.'}{value}"
        for family, values in COMPUTED_KEYS.items()
        for value in values
        if not has_message(f"web.households.{family}{'_' if family == 'consumption.by' else '.'}{value}")
    ]
    assert missing == []


# -- reading a clerk's words ----------------------------------------------------------------------

UNIT = st.text(alphabet="0123456789ABC", min_size=1, max_size=4)
COMMUNITY = st.text(alphabet="碧桂园长河湾阅水秦韵", min_size=1, max_size=5)


@given(community=COMMUNITY, building=UNIT, entrance=UNIT, floor=st.integers(1, 40), flat=UNIT, spaced=st.booleans())
def test_an_address_written_the_chinese_way_is_read_into_its_parts(
    community: str, building: str, entrance: str, floor: int, flat: str, spaced: bool
) -> None:
    separator = " " if spaced else ""
    text = separator.join([community, f"{building}号楼", f"{entrance}单元", f"{floor}层", f"{flat}室"])
    terms = search_terms(text)
    assert SearchTerm(building, AddressPart.BUILDING) in terms
    assert SearchTerm(entrance, AddressPart.ENTRANCE) in terms
    assert SearchTerm(str(floor), AddressPart.FLOOR) in terms
    assert SearchTerm(flat, AddressPart.FLAT) in terms
    assert SearchTerm(community) in terms
    assert len(terms) == len(set(terms)) <= 5


def test_bare_words_stay_whole_and_separators_split_them() -> None:
    assert search_terms(" WZ-0001 ， 碧桂园 ") == (SearchTerm("WZ-0001"), SearchTerm("碧桂园"))
    assert search_terms("3栋501") == (SearchTerm("3", AddressPart.BUILDING), SearchTerm("501"))
    assert search_terms("") == ()


@pytest.mark.parametrize("role", [Role.REGULATOR, Role.AUDITOR])
def test_a_reader_without_manage_households_finds_no_household_by_phone(
    api: LedgerApi, container: Container, role: Role
) -> None:
    assert api.register_household("WZ-0001").status_code == 201
    with pytest.raises(PermissionDeniedError):
        find_households(container, Principal("reader", role), HouseholdFilter(phone="1380"), 50, 0)
    found = find_households(container, Principal("reader", role), HouseholdFilter(search="WZ"), 50, 0)
    assert [record.account_number for record in found.items] == ["WZ-0001"]


def test_every_flat_is_found_by_its_own_address(api: LedgerApi, container: Container) -> None:
    """Twelve flats differing one part at a time: each one's whole address finds it alone."""
    flats = [(building, entrance, floor) for building in ("1", "11") for entrance in ("1", "2") for floor in (1, 2, 3)]
    for index, (building, entrance, floor) in enumerate(flats):
        body = {
            "account_number": f"WZ-{index:02d}",
            "address": {"community": "碧桂园", "building": building, "entrance": entrance, "floor": floor, "flat": "1"},
            "connected_area_m2": "80.00",
            "heated_area_m2": "80.00",
            "customer_class": "residential",
            "position": {"vertical": "middle", "horizontal": "middle"},
            "registered_on": "2025-10-01",
        }
        assert api.client.post("/households", json=body, headers=api.clerk()).status_code == 201
    for index, (building, entrance, floor) in enumerate(flats):
        terms = search_terms(f"碧桂园{building}号楼{entrance}单元{floor}层1室")
        page = search_households(container.engine, HouseholdSearch(terms=terms), 50)
        assert [record.account_number for record in page.items] == [f"WZ-{index:02d}"]
        assert page.items[0].connected_area_m2 == Decimal("80.00")


def test_the_english_catalogue_has_every_households_key_of_the_chinese_one() -> None:
    chinese = {key for key in catalogue(Language.ZH).messages if key.startswith("web.households.")}
    english = {key for key in catalogue(Language.EN).messages if key.startswith("web.households.")}
    assert chinese == english and len(chinese) > 150
