"""The engineer's detail made readable: a finding's details as words and small tables, evidence shown
once per service, the scanned ports as a summary.

Pure functions over wire models, registered in the template environment; they arrange, never judge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import JsonValue

from duecare.wire import Evidence, Finding

#: Rows of a list-of-records detail shown in the page; the rest is in the JSON report.
TABLE_ROWS_SHOWN = 25


@dataclass(frozen=True)
class DetailRow:
    """One entry of a finding's ``details``: a line of text, or a small table (list of records)."""

    label: str
    kind: Literal["text", "table"]
    text: str = ""
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    hidden_rows: int = 0


def words(key: str) -> str:
    return key.replace("_", " ")


def scalar(value: JsonValue) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if value is None or value == "":
        return "—"
    return str(value)


def _inline(value: JsonValue) -> str:
    """A value on one line: lists joined, a record as ``key value · key value``."""
    if isinstance(value, list):
        return ", ".join(_inline(v) for v in value) or "none"
    if isinstance(value, dict):
        return " · ".join(f"{words(k)} {_inline(v)}" for k, v in value.items()) or "—"
    return scalar(value)


def detail_rows(details: dict[str, JsonValue], skip: Sequence[str] = ("waiver",)) -> list[DetailRow]:
    """``details`` as a person reads them: a list of records becomes a table, everything else one line."""
    out = []
    for key, value in details.items():
        if key in skip:
            continue
        records = isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
        if records and isinstance(value, list):
            columns = tuple(dict.fromkeys(k for v in value if isinstance(v, dict) for k in v))
            rows = tuple(
                tuple(_inline(v.get(c)) if isinstance(v, dict) else "" for c in columns)
                for v in value[:TABLE_ROWS_SHOWN]
            )
            out.append(
                DetailRow(
                    words(key),
                    "table",
                    columns=tuple(words(c) for c in columns),
                    rows=rows,
                    hidden_rows=max(0, len(value) - TABLE_ROWS_SHOWN),
                )
            )
        else:
            out.append(DetailRow(words(key), "text", text=_inline(value)))
    return out


def _evidence_key(e: Evidence) -> tuple[str, str, str, str]:
    return (e.probe, e.kind.value, e.summary, e.digest or e.excerpt)


def shown_earlier(findings: Sequence[Finding], finding: Finding, evidence: Evidence) -> Finding | None:
    """The earlier finding of the same service whose evidence already showed this capture, if any:
    one TLS handshake behind three findings is printed once, then referred to."""
    key = _evidence_key(evidence)
    for f in findings:
        if f is finding:
            return None
        if any(_evidence_key(e) == key for e in f.evidence):
            return f
    return None


@dataclass(frozen=True)
class PortSummary:
    count: int
    lowest: int
    highest: int
    well_known: int
    ranges: int


def port_summary(ports: set[int], ranges: str) -> PortSummary | None:
    """How many ports a scan covered and where, instead of the list itself (it is in the JSON report)."""
    if not ports:
        return None
    return PortSummary(
        count=len(ports),
        lowest=min(ports),
        highest=max(ports),
        well_known=sum(1 for p in ports if p < 1024),
        ranges=len([part for part in ranges.split(",") if part.strip()]),
    )
