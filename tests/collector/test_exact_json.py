"""The collector's canonical bytes of a received report (``exact_json``, orjson) are the agent's
(``wire.canonical_bytes``, ``json``) for every JSON text: a signature that verified before verifies now."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from duecare.collector.exact_json import canonical_bytes_exact, loads_exact
from duecare.wire import canonical_bytes

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e-3, max_value=1e-3),
    st.floats(min_value=1e15, max_value=1e22),
    st.text(),
    st.text(alphabet=st.characters(max_codepoint=0x7F)),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=8), inner, max_size=6)),
    max_leaves=40,
)


def _agent(text: str) -> bytes | str:
    """What the agent's bytes were: ``canonical_bytes`` of the object ``json`` reads (or its error)."""
    try:
        return canonical_bytes(json.loads(text))
    except (TypeError, ValueError) as exc:
        return type(exc).__name__


def _collector(text: str) -> bytes | str:
    try:
        return canonical_bytes_exact(loads_exact(text))
    except (TypeError, ValueError) as exc:
        return type(exc).__name__


@settings(max_examples=400)
@given(value=_json, sort=st.booleans(), ascii_only=st.booleans())
def test_every_json_value_gives_the_agents_bytes(value: Any, sort: bool, ascii_only: bool) -> None:
    text = json.dumps(value, sort_keys=sort, ensure_ascii=ascii_only)
    assert _collector(text) == _agent(text)


@pytest.mark.parametrize(
    "number",
    [
        "1.0", "1e5", "1E-7", "-0.0", "-0", "0.1e1", "1e400", "-1e400", "NaN", "Infinity", "-Infinity",
        "1.7976931348623157e308", "5e-324", "4.9e-324", "2.5e-324", "123456789012345678901234567890.5",
        "1e16", "1e15", "1e-5", "0.0001", "0.00001", "12.345", "1.0000000000000001", "9007199254740993.0",
        "18446744073709551616", "-9223372036854775809", "9223372036854775807", "1e22", "1e21",
    ],
)  # fmt: skip
def test_number_texts_as_an_agent_may_write_them(number: str) -> None:
    for text in (f"[{number}]", f'{{"n":{number},"a":[{number}]}}', f'{{"z":{{"y":[1,{number},"s"]}}}}'):
        assert _collector(text) == _agent(text), text


@given(key=st.text(), other=st.text(), value=st.text())
def test_keys_sort_and_strings_escape_alike(key: str, other: str, value: str) -> None:
    text = json.dumps({key: value, other: [value, key]}, ensure_ascii=False)
    assert _collector(text) == _agent(text)


def test_what_orjson_cannot_write_is_written_by_json() -> None:
    deep = "[" * 300 + "1.5" + "]" * 300
    assert _collector(deep) == _agent(deep)
    huge = '{"n": 123456789012345678901234567890, "f": 1e+16}'
    assert _collector(huge) == _agent(huge) == b'{"f":1e+16,"n":123456789012345678901234567890}'


def test_floats_are_not_its_input() -> None:
    """Fed Python floats (not ``loads_exact``'s Decimals) it would write orjson's form: the route
    only ever feeds it what ``loads_exact`` read (``routes/reports._parse``)."""
    assert canonical_bytes([1e16]) == b"[1e+16]"
    assert math.isclose(json.loads(canonical_bytes_exact(loads_exact("[1e16]")))[0], 1e16)
    assert canonical_bytes_exact(loads_exact("[1e16]")) == b"[1e+16]"
