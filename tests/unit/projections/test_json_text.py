"""``json_text`` (msgspec) writes the JSON ``json.dumps`` wrote before (``json_text_spaced``): parsed,
the same keys in the same order and the same values, for payloads as events carry them (dicts,
lists, text, Decimals, integers, floats, booleans, None); only the spaces differ."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from projections.balance_rows import json_text, json_text_spaced

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**18), 10**18),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(),  # NaN and infinities included: both write their str
    st.text(),
)
payloads = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
)


def parsed(text: str) -> Any:
    """The text's values with each object's keys in their written order."""
    return json.loads(text, object_pairs_hook=list)


@given(payloads)
def test_the_text_parses_to_what_json_dumps_wrote(payload: Any) -> None:
    assert parsed(json_text(payload)) == parsed(json_text_spaced(payload))


@given(st.dictionaries(st.text(), st.decimals(), min_size=1, max_size=20))
def test_keys_are_sorted_and_decimals_written_as_their_str(payload: dict[str, Any]) -> None:
    written = parsed(json_text(payload))
    assert [key for key, _ in written] == sorted(payload)
    assert [value for _, value in written] == [str(payload[key]) for key in sorted(payload)]
