"""Limits every value of the contract keeps, so one odd device can never make a report unstorable.

A collector stores what an agent sends in SQLite and PostgreSQL. PostgreSQL refuses NUL in text
and JSONB, lone surrogates are not UTF-8, ``NaN`` is not JSON (RFC 8259 §6), and a date near year
9999 overflows when it is moved to UTC. A report carrying any of these would be refused by the
database on every retry, so the contract refuses it first, naming the field; the agent escapes
what hostile peers send before it enters a finding (``printable``) so its own reports always pass.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, Field, JsonValue

#: C0 controls except tab, LF and CR; DEL; lone UTF-16 surrogates (not encodable as UTF-8).
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

#: Datetimes and dates must fall inside this window (UTC): wide for any real scan, far from overflow.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
EARLIEST_DATE = date(1990, 1, 1)

HOSTNAME = 255
NAME = 100
TITLE = 500
SUMMARY = 500
REASON = 4000
EXCERPT = 4096
URL = 2000
#: Serialised size of a free-form ``details`` / ``facts`` object.
DETAILS_BYTES = 16 * 1024
FACTS_BYTES = 64 * 1024
#: Nesting of a free-form object, and the magnitude of its integers (JSON readers differ past 2**53).
JSON_DEPTH = 16
JSON_INT = 2**63


def escape_controls(text: str) -> str:
    """Controls and lone surrogates as ``\\xNN`` / ``\\uNNNN``: kept visible, never dropped."""
    return _FORBIDDEN.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", text)


def _clean(value: str) -> str:
    m = _FORBIDDEN.search(value)
    if m is not None:
        raise ValueError(f"control character U+{ord(m[0]):04X} at offset {m.start()} (escape it as \\x..)")
    return value


def _utc_window(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise ValueError("date out of range (cannot be expressed in UTC)") from exc
    if not EARLIEST <= utc < LATEST:
        raise ValueError(f"date out of range: must lie between {EARLIEST.date()} and {LATEST.date()} (UTC)")
    return value


def _date_window(value: date) -> date:
    if not EARLIEST_DATE <= value < LATEST.date():
        raise ValueError(f"date out of range: must lie between {EARLIEST_DATE} and {LATEST.date()}")
    return value


def _json_size(value: Any, depth: int = 0) -> int:
    """Approximate serialised size, checking every leaf on the way (strings, finite numbers, depth)."""
    if depth > JSON_DEPTH:
        raise ValueError(f"nested deeper than {JSON_DEPTH} levels")
    if isinstance(value, str):
        _clean(value)
        return len(value) + 2
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        if not -JSON_INT < value < JSON_INT:
            raise ValueError("integer beyond ±2**63")
        return 20
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("NaN and Infinity are not JSON numbers")
        return 24
    if isinstance(value, dict):
        return 2 + sum(_json_size(str(k), depth + 1) + _json_size(v, depth + 1) + 2 for k, v in value.items())
    if isinstance(value, list | tuple):
        return 2 + sum(_json_size(v, depth + 1) + 1 for v in value)
    raise ValueError(f"not a JSON value: {type(value).__name__}")


def _json_doc(limit: int) -> AfterValidator:
    def check(value: dict[str, JsonValue]) -> dict[str, JsonValue]:
        if _json_size(value) > limit:
            raise ValueError(f"larger than {limit} bytes")
        return value

    return AfterValidator(check)


_SAFE = AfterValidator(_clean)
#: Strings of the contract, each capped and free of control characters.
Name = Annotated[str, Field(max_length=NAME), _SAFE]
Hostname = Annotated[str, Field(max_length=HOSTNAME), _SAFE]
Title = Annotated[str, Field(max_length=TITLE), _SAFE]
Summary = Annotated[str, Field(max_length=SUMMARY), _SAFE]
Reason = Annotated[str, Field(max_length=REASON), _SAFE]
Excerpt = Annotated[str, Field(max_length=EXCERPT), _SAFE]
Url = Annotated[str, Field(max_length=URL), _SAFE]
ErrorText = Annotated[str, Field(max_length=2000), _SAFE]
TracebackText = Annotated[str, Field(max_length=8000), _SAFE]
#: nmap's port range notation ("1-21,23-442"): at most every port once.
PortRanges = Annotated[str, Field(max_length=400_000), _SAFE]

WireTime = Annotated[AwareDatetime, AfterValidator(_utc_window)]
WireDate = Annotated[date, AfterValidator(_date_window)]
Details = Annotated[dict[str, JsonValue], _json_doc(DETAILS_BYTES)]
Facts = Annotated[dict[str, JsonValue], _json_doc(FACTS_BYTES)]


_CUT = "…[truncated]"


def printable(text: str, limit: int) -> str:
    """What a hostile peer sent, made fit for the contract: controls escaped, capped with a visible mark."""
    out = escape_controls(text)
    return out if len(out) <= limit else out[: limit - len(_CUT)] + _CUT


def json_safe(value: Any, limit: int = DETAILS_BYTES) -> dict[str, JsonValue]:
    """A free-form object (probe facts, finding details) made fit for the contract.

    Strings are escaped (``printable``), non-finite numbers and huge integers become strings, deep
    nesting is cut; an object still over ``limit`` is replaced by a note saying so, never dropped silently.
    """

    def fix(v: Any, depth: int) -> JsonValue:
        if isinstance(v, str):
            return printable(v, EXCERPT)
        if isinstance(v, bool) or v is None:
            return v
        if isinstance(v, int):
            return v if -JSON_INT < v < JSON_INT else str(v)
        if isinstance(v, float):
            return v if math.isfinite(v) else str(v)
        if depth >= JSON_DEPTH:
            return printable(repr(v), 200)
        if isinstance(v, dict):
            return {printable(str(k), NAME): fix(x, depth + 1) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [fix(x, depth + 1) for x in v]
        return printable(str(v), EXCERPT)

    fixed = fix(dict(value), 1)
    assert isinstance(fixed, dict)
    try:
        size = _json_size(fixed)
    except ValueError:
        size = limit + 1
    if size > limit:
        return {"truncated": f"{size} bytes of detail were over the {limit}-byte limit and not kept"}
    return fixed
