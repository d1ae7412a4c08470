"""The wire's address type (``models.IPAddress``) takes and writes exactly what the plain union
``IPv4Address | IPv6Address`` took and wrote, in one parse."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from duecare.wire.models import IPAddress

NEW: TypeAdapter[Any] = TypeAdapter(IPAddress)
OLD: TypeAdapter[Any] = TypeAdapter(IPv4Address | IPv6Address)

_texts = st.one_of(
    st.ip_addresses().map(str),
    st.ip_addresses(v=6).map(lambda a: a.exploded),
    st.ip_addresses(v=6).map(lambda a: str(a).upper()),
    st.text(alphabet="0123456789abcdefABCDEF.:%x/ ", max_size=45),
    st.text(max_size=20),
)


def _outcome(adapter: TypeAdapter[Any], raw: bytes) -> Any:
    try:
        value = adapter.validate_json(raw)
    except ValidationError:
        return "invalid"
    return (type(value), value, adapter.dump_json(value), adapter.dump_python(value, mode="json"))


@given(text=_texts)
def test_every_text_is_taken_and_written_as_the_union_did(text: str) -> None:
    raw = TypeAdapter(str).dump_json(text)
    assert _outcome(NEW, raw) == _outcome(OLD, raw)


@given(number=st.integers(min_value=0, max_value=2**128 - 1))
def test_integers_too(number: int) -> None:
    assert _outcome(NEW, str(number).encode()) == _outcome(OLD, str(number).encode())


def test_a_bad_address_names_what_it_is() -> None:
    with pytest.raises(ValidationError, match="not a valid IPv4 or IPv6 address"):
        NEW.validate_json(b'"10.0.0.256"')
    with pytest.raises(ValidationError):
        NEW.validate_json(b"true")
    assert NEW.json_schema() == OLD.json_schema()
    assert NEW.json_schema(mode="serialization") == OLD.json_schema(mode="serialization")


@given(text=_texts)
def test_a_remembered_address_is_taken_and_written_as_the_first_time(text: str) -> None:
    """The parse and the JSON text are remembered per address (``_parse_ip``, ``ip_text``): the
    second sighting of a text gives what the union gives, as the first did."""
    raw = TypeAdapter(str).dump_json(text)
    first, again = _outcome(NEW, raw), _outcome(NEW, raw)
    assert first == again == _outcome(OLD, raw)
