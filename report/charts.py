"""Chart geometry for inline SVG: bars by severity and by obligation status, a line over time.

Only numbers and coordinates are computed here; the template draws them (so every label is
autoescaped). Print-safe by construction: each category has a fill *pattern* as well as a colour,
every bar carries its label and count, and each line has its own dash and marker shape, so a
black-and-white printout reads the same as the screen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from duecare.wire import ObligationStatus, Severity

Pattern = Literal["solid", "hatch", "cross", "dots", "empty"]
Marker = Literal["circle", "triangle", "square"]


@dataclass(frozen=True)
class Swatch:
    key: str
    label: str
    pattern: Pattern
    color: str


SEVERITY_SWATCHES: dict[Severity, Swatch] = {
    Severity.CRITICAL: Swatch("critical", "Critical", "solid", "#7f1d1d"),
    Severity.HIGH: Swatch("high", "High", "hatch", "#c2410c"),
    Severity.MEDIUM: Swatch("medium", "Medium", "cross", "#a16207"),
    Severity.LOW: Swatch("low", "Low", "dots", "#1d4ed8"),
    Severity.INFO: Swatch("info", "Info", "empty", "#6b7280"),
}

OBLIGATION_SWATCHES: dict[ObligationStatus, Swatch] = {
    ObligationStatus.NOT_MET: Swatch("not_met", "Not met", "solid", "#7f1d1d"),
    ObligationStatus.UNKNOWN: Swatch("unknown", "Unknown", "hatch", "#4b5563"),
    ObligationStatus.NO_CONTRARY_EVIDENCE: Swatch("no_contrary_evidence", "No contrary evidence", "cross", "#6b7280"),
    ObligationStatus.ATTESTATION_REQUIRED: Swatch("attestation_required", "Attestation required", "empty", "#6d28d9"),
    ObligationStatus.WAIVED: Swatch("waived", "Waived", "dots", "#1d4ed8"),
    ObligationStatus.MET: Swatch("met", "Met", "empty", "#15803d"),
}


@dataclass(frozen=True)
class BarRow:
    swatch: Swatch
    value: int
    y: float
    width: float


@dataclass(frozen=True)
class BarChart:
    id: str
    title: str
    rows: tuple[BarRow, ...]
    width: int
    height: int
    bar_x: int
    bar_h: int
    total: int

    @property
    def swatches(self) -> tuple[Swatch, ...]:
        return tuple(r.swatch for r in self.rows)


def bar_chart(chart_id: str, title: str, values: Sequence[tuple[Swatch, int]], *, width: int = 360) -> BarChart:
    # The label column fits the longest label (13px text, about 7.5px a character).
    bar_x = max(96, 12 + round(7.5 * max((len(sw.label) for sw, _ in values), default=0)))
    bar_h, row_h, right = 18, 30, 44
    top = max((v for _, v in values), default=0) or 1
    span = width - bar_x - right
    rows = tuple(
        BarRow(sw, v, 6 + i * row_h, round(span * v / top, 1) if v else 0.0) for i, (sw, v) in enumerate(values)
    )
    return BarChart(chart_id, title, rows, width, 6 + len(values) * row_h, bar_x, bar_h, sum(v for _, v in values))


def severity_chart(counts: dict[Severity, int]) -> BarChart:
    order = sorted(Severity, key=lambda s: -s.rank)
    return bar_chart("sev", "Open findings by severity", [(SEVERITY_SWATCHES[s], counts.get(s, 0)) for s in order])


def obligation_chart(counts: dict[ObligationStatus, int]) -> BarChart:
    order = (
        ObligationStatus.NOT_MET,
        ObligationStatus.UNKNOWN,
        ObligationStatus.NO_CONTRARY_EVIDENCE,
        ObligationStatus.ATTESTATION_REQUIRED,
        ObligationStatus.WAIVED,
        ObligationStatus.MET,
    )
    return bar_chart("obl", "Obligations by status", [(OBLIGATION_SWATCHES[s], counts.get(s, 0)) for s in order])


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    value: int

    def marker(self, shape: Marker, r: float = 4.5) -> str:
        """An SVG path for the point's marker: shape, not colour, tells the series apart."""
        x, y = self.x, self.y
        if shape == "triangle":
            return f"M{x:.1f},{y - r:.1f} L{x + r:.1f},{y + r * 0.8:.1f} L{x - r:.1f},{y + r * 0.8:.1f} Z"
        if shape == "square":
            return f"M{x - r * 0.8:.1f},{y - r * 0.8:.1f} h{r * 1.6:.1f} v{r * 1.6:.1f} h{-r * 1.6:.1f} Z"
        return f"M{x - r:.1f},{y:.1f} a{r:.1f},{r:.1f} 0 1,0 {2 * r:.1f},0 a{r:.1f},{r:.1f} 0 1,0 {-2 * r:.1f},0"


@dataclass(frozen=True)
class Series:
    label: str
    color: str
    dash: str
    marker: Marker
    points: tuple[Point, ...]

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)

    @property
    def legend_marker(self) -> str:
        return Point(13, -4, 0).marker(self.marker)

    @property
    def last(self) -> Point | None:
        return self.points[-1] if self.points else None


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str


@dataclass(frozen=True)
class LineChart:
    id: str
    title: str
    width: int
    height: int
    left: int
    top: int
    right: int
    bottom: int
    series: tuple[Series, ...]
    yticks: tuple[Tick, ...]
    xticks: tuple[Tick, ...]


def _nice_step(top: int, ticks: int = 4) -> int:
    raw = max(1.0, top / ticks)
    mag = 10 ** math.floor(math.log10(raw))
    return int(next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw))


SERIES_STYLE: dict[str, tuple[str, str, Marker]] = {
    "Open": ("#7f1d1d", "", "circle"),
    "New": ("#c2410c", "7 4", "triangle"),
    "Resolved": ("#15803d", "2 3", "square"),
}


def line_chart(
    chart_id: str, title: str, times: Sequence[datetime], series: dict[str, Sequence[int]], *, width: int = 680
) -> LineChart:
    """Values over report times; x is proportional to time so uneven gaps between scans show."""
    height, left, right, top, bottom = 240, 44, width - 20, 14, 240 - 40
    peak = max((v for vals in series.values() for v in vals), default=0)
    step = _nice_step(peak or 1)
    ymax = step * max(1, math.ceil((peak or 1) / step))
    t0 = min(times).timestamp() if times else 0.0
    span = (max(times).timestamp() - t0) if times else 0.0

    def x_of(i: int) -> float:
        if len(times) <= 1:
            return (left + right) / 2
        return left + (right - left) * ((times[i].timestamp() - t0) / span if span else i / (len(times) - 1))

    def y_of(v: int) -> float:
        return bottom - (bottom - top) * v / ymax

    out = []
    for name, vals in series.items():
        color, dash, marker = SERIES_STYLE.get(name, ("#111827", "", "circle"))
        out.append(Series(name, color, dash, marker, tuple(Point(x_of(i), y_of(v), v) for i, v in enumerate(vals))))
    yticks = tuple(Tick(y_of(v), str(v)) for v in range(0, ymax + 1, step))
    every = max(1, math.ceil(len(times) / 7))
    picks = sorted({*range(0, len(times), every), len(times) - 1}) if times else []
    xticks = tuple(Tick(x_of(i), times[i].strftime("%d %b")) for i in picks)
    return LineChart(chart_id, title, width, height, left, top, right, bottom, tuple(out), yticks, xticks)
