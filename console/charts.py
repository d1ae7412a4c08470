"""Inline SVG charts, each with the sentence a screen reader reads instead (no script, no style attribute)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from duecare.console.trend import Night


@dataclass(frozen=True)
class Spark:
    width: int
    height: int
    points: str
    #: The chart in words: what a screen reader reads, and what the page prints beside it.
    text: str
    last_x: float
    last_y: float


def sparkline(nights: Sequence[Night], width: int = 120, height: int = 28) -> Spark:
    values = [n.open for n in nights]
    top = max(values) or 1
    step = (width - 4) / max(len(values) - 1, 1)

    def y(v: int) -> float:
        return round(height - 2 - (height - 4) * v / top, 1)

    pts = " ".join(f"{2 + i * step:.1f},{y(v)}" for i, v in enumerate(values))
    first, last, peak = values[0], values[-1], max(values)
    trend = "no change" if last == first else ("up" if last > first else "down")
    text = (
        f"Open findings over {len(values)} days: {first} on {nights[0].day.isoformat()}, {last} today "
        f"({trend}); peak {peak}."
    )
    return Spark(width, height, pts, text, round(2 + (len(values) - 1) * step, 1), y(last))


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    height: float
    label: str


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    open_line: str
    new_bars: tuple[Bar, ...]
    resolved_bars: tuple[Bar, ...]
    bar_width: float
    text: str
    top: int


def timeline(nights: Sequence[Night], width: int = 720, height: int = 160) -> Timeline:
    """Open findings as a line, new (up) and resolved (down) per night as bars around the middle."""
    top = max([n.open for n in nights] + [n.new for n in nights] + [n.resolved for n in nights] + [1])
    step = width / max(len(nights), 1)
    mid = height * 0.7

    def y_open(v: int) -> float:
        return round(mid - (mid - 4) * v / top, 1)

    line = " ".join(f"{i * step + step / 2:.1f},{y_open(n.open)}" for i, n in enumerate(nights))
    scale = (height - mid - 2) / max([n.new for n in nights] + [n.resolved for n in nights] + [1])
    new, resolved = [], []
    for i, n in enumerate(nights):
        x = round(i * step + step * 0.15, 1)
        if n.new:
            h = max(round(n.new * scale, 1), 1.0)
            new.append(Bar(x, round(mid - h, 1), h, f"{n.day}: {n.new} new"))
        if n.resolved:
            h = max(round(n.resolved * scale, 1), 1.0)
            resolved.append(Bar(x, mid, h, f"{n.day}: {n.resolved} resolved"))
    total_new = sum(n.new for n in nights)
    total_resolved = sum(n.resolved for n in nights)
    text = (
        f"Over {len(nights)} nights from {nights[0].day} to {nights[-1].day}: {total_new} findings new or reopened, "
        f"{total_resolved} resolved; open went from {nights[0].open} to {nights[-1].open} "
        f"(peak {max(n.open for n in nights)})."
    )
    return Timeline(width, height, line, tuple(new), tuple(resolved), round(step * 0.7, 1), text, top)
