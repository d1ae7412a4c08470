"""The agent's side of boundary hygiene: what a hostile peer sends is escaped and capped, never dropped."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from duecare.probes.base import evidence
from duecare.wire import EvidenceKind, Finding
from duecare.wire.bounds import DETAILS_BYTES, escape_controls, json_safe, printable
from tests.collector.factories import finding


def test_redis_version_with_a_nul_is_escaped_in_the_evidence() -> None:
    """A fake Redis answering PING with a NUL in its version string (issue 15)."""
    ev = evidence("redis", EvidenceKind.BANNER, "INFO server\x00", "redis_version:7.0.15\x00\x1b[2J")
    assert ev.excerpt == "redis_version:7.0.15\\x00\\x1b[2J"
    assert ev.summary == "INFO server\\x00"


def test_printable_caps_with_a_visible_mark() -> None:
    out = printable("a" * 600, 500)
    assert len(out) == 500 and out.endswith("…[truncated]")
    assert printable("ok", 500) == "ok"


@given(st.text())
def test_escaped_text_always_fits_the_contract(text: str) -> None:
    f = finding("198.18.0.50")
    Finding.model_validate({**f.model_dump(), "title": printable(text, 500), "reason": escape_controls(text)[:4000]})


def test_json_safe_keeps_what_it_can_and_says_what_it_cut() -> None:
    fixed = json_safe({"v": "7.0\x00", "n": math.nan, "big": 10**40, "k\x01": 1})
    assert fixed == {"v": "7.0\\x00", "n": "nan", "big": str(10**40), "k\\x01": 1}
    cut = json_safe({"x": "y" * 4000, "z": ["w" * 4000] * 10})
    assert list(cut) == ["truncated"] and str(DETAILS_BYTES) in str(cut["truncated"])
    Finding.model_validate({**finding("198.18.0.50").model_dump(), "details": cut})


def test_the_model_refuses_what_was_not_escaped() -> None:
    with pytest.raises(ValidationError, match="control character U\\+0000"):
        Finding.model_validate({**finding("198.18.0.50").model_dump(), "title": "a\x00"})
