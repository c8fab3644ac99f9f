"""The account numbers the ledger takes: ones a URL path, a file name and an SMS can carry."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidInputError
from domain.values import ACCOUNT_NUMBER_PATTERN, valid_account_number


@pytest.mark.parametrize("account_number", ["WZ-0001", "BGY-1-1-0601", "碧桂园.1_2-0601", "㐀1", "x" * 64])
def test_letters_digits_cjk_and_separators_are_taken(account_number: str) -> None:
    assert valid_account_number(account_number) == account_number


@pytest.mark.parametrize(
    "account_number",
    ["", "WZ/0001", "WZ\x000001", "WZ-0001\n", "WZ-😀", "WZ 0001", ".", "..", "-1", "ＷＺ", "١٢", "x" * 65],
)
def test_anything_else_is_refused_with_its_key(account_number: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        valid_account_number(account_number)

    assert refused.value.message_key == "account_number_invalid"
    assert refused.value.params == {"field": "account_number", "value": account_number}


@given(st.text(max_size=70))
def test_a_taken_account_number_is_one_path_segment_of_printable_characters(text: str) -> None:
    try:
        taken = valid_account_number(text)
    except InvalidInputError:
        return
    assert "/" not in taken and taken not in {".", ".."}
    assert taken.isprintable() and not any(character.isspace() for character in taken)
    assert re.fullmatch(ACCOUNT_NUMBER_PATTERN, taken)
