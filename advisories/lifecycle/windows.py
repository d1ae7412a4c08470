"""A Windows version (major.minor.build, as NTLM announces it) judged against the lifecycle table. Pure.

One announced build often names several releases: a client and a server (10.0.17763 = Windows 10 1809
and Server 2019), edition groups with different end dates (Home/Pro, Enterprise/Education, LTSC), or a
whole enablement-package family (10.0.19041 = Windows 10 2004 … 22H2). The verdict is firm only when
every release the build can be has ended (or none has); otherwise it is indeterminate and says what
would settle it. The day judged is the scan's, passed in, never today's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from pydantic import JsonValue

from duecare.advisories.lifecycle.tables import Edition, Kind, LifecycleTables, WindowsRelease
from duecare.wire import Confidence, Verdict

SETTLE_KIND = (
    "whether the host is a server or a workstation (an SMB1 NativeOS string, a server role such as "
    "Exchange on the same host, or the MSP's inventory)"
)
SETTLE_EDITION = "the edition (Home/Pro, Enterprise/Education or LTSC: the MSP's inventory or a credentialed check)"
SETTLE_FEATURE = (
    "the feature update (enablement-package releases announce their base build in NTLM: winver, the "
    "registry's DisplayVersion via a credentialed check, or the MSP's inventory)"
)
SETTLE_UNKNOWN = (
    "the host's own OS version (winver or a credentialed check), or a lifecycle table that knows this build"
)
FREERDP_NOTE = (
    "FreeRDP-based RDP servers (gnome-remote-desktop, FreeRDP's shadow server) announce 6.1.7601 whatever "
    "they run on; an SMB service on the same host announcing 6.1.7601 (Samba announces 6.1.0), or the RDP "
    "server's product, would settle it"
)


@dataclass(frozen=True, slots=True)
class Hints:
    """Facts from the same host that narrow the candidates, each with where it came from."""

    kind: Kind | None = None
    kind_basis: str | None = None
    editions: frozenset[Edition] | None = None
    editions_basis: str | None = None
    #: The version came only from an RDP NTLM exchange (a FreeRDP server announces 6.1.7601 too).
    rdp_only: bool = False
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Judgement:
    verdict: Verdict
    confidence: Confidence
    reason: str
    details: dict[str, JsonValue] = field(default_factory=dict)


def _candidate(r: WindowsRelease, on: date) -> dict[str, JsonValue]:
    return {
        "release": r.release,
        "kind": r.kind.value,
        "editions": [e.value for e in r.editions],
        "end_of_support": r.end_of_support.isoformat(),
        "esu_until": None if r.esu_until is None else r.esu_until.isoformat(),
        "ended": on > r.end_of_support,
        "source": r.source,
    }


def _names(rows: Sequence[WindowsRelease], on: date) -> str:
    parts = []
    for r in rows:
        state = "ended" if on > r.end_of_support else "supported until"
        parts.append(f"{r.label} ({state} {r.end_of_support})")
    return "; ".join(parts)


def _narrow(rows: Sequence[WindowsRelease], hints: Hints) -> tuple[WindowsRelease, ...]:
    out = tuple(rows)
    if hints.kind is not None:
        out = tuple(r for r in out if r.kind in (hints.kind, Kind.BOTH))
    if hints.editions is not None:
        out = tuple(r for r in out if Edition.ALL in r.editions or hints.editions.intersection(r.editions))
    return out


def _settle(rows: Sequence[WindowsRelease], on: date) -> list[str]:
    """What would separate the releases whose verdicts differ."""
    ended = [r for r in rows if on > r.end_of_support]
    live = [r for r in rows if on <= r.end_of_support]
    out = []
    if {r.kind for r in ended} != {r.kind for r in live}:
        out.append(SETTLE_KIND)
    if any(r.kind is not Kind.SERVER for r in ended) and any(r.kind is not Kind.SERVER for r in live):
        out.append(SETTLE_EDITION)
    if len({r.version for r in rows}) > 1:
        out.append(SETTLE_FEATURE)
    return out or [SETTLE_UNKNOWN]


def judge_releases(
    what: str, rows: Sequence[WindowsRelease], on: date, hints: Hints, base: dict[str, JsonValue]
) -> Judgement:
    """The verdict over the releases ``what`` can be, once narrowed by the hints."""
    details: dict[str, JsonValue] = {**base, "judged_on": on.isoformat()}
    narrowed = _narrow(rows, hints)
    basis = [b for b in (hints.kind_basis, hints.editions_basis) if b]
    if basis:
        details["narrowed_by"] = list(basis)
    if not narrowed:
        details["candidates"] = [_candidate(r, on) for r in rows]
        return Judgement(
            Verdict.INDETERMINATE,
            Confidence.TENTATIVE,
            f"{what}: no release in the lifecycle table fits both the version and {', '.join(basis)}; "
            f"settle with {SETTLE_UNKNOWN}",
            details,
        )
    details["candidates"] = [_candidate(r, on) for r in narrowed]
    ended = [r for r in narrowed if on > r.end_of_support]
    notes = "".join(f"; {n}" for n in hints.notes)
    if not ended:
        last = min(r.end_of_support for r in narrowed)
        return Judgement(
            Verdict.NOT_AFFECTED, Confidence.FIRM, f"{what} is {_names(narrowed, on)}: in support until {last}", details
        )
    if len(ended) < len(narrowed):
        settle = _settle(narrowed, on)
        details["settle"] = list(settle)
        return Judgement(
            Verdict.INDETERMINATE,
            Confidence.TENTATIVE,
            f"{what} is one of: {_names(narrowed, on)}; settle with {'; '.join(settle)}{notes}",
            details,
        )
    esu = sorted({r.esu_until for r in narrowed if r.esu_until is not None and on <= r.esu_until})
    reason = f"{what} is {_names(narrowed, on)}: past Microsoft's end of support"
    if hints.rdp_only and any(r.version == "6.1.7601" for r in narrowed):
        details["settle"] = [FREERDP_NOTE]
        return Judgement(
            Verdict.INDETERMINATE,
            Confidence.TENTATIVE,
            f"{reason}, unless it is not Windows: {FREERDP_NOTE}{notes}",
            details,
        )
    if esu:
        details["esu_until"] = esu[-1].isoformat()
        return Judgement(
            Verdict.AFFECTED,
            Confidence.TENTATIVE,
            f"{reason}; may be covered by paid Extended Security Updates until {esu[-1]}: verify{notes}",
            details,
        )
    return Judgement(Verdict.AFFECTED, Confidence.FIRM, f"{reason}{notes}", details)


def judge_windows(tables: LifecycleTables, version: str, on: date, hints: Hints = Hints()) -> Judgement:
    """``version`` as announced (``10.0.14393``) on the scan's day ``on``."""
    base: dict[str, JsonValue] = {"windows_version": version}
    rows = tables.candidates(version)
    if not rows:
        newest = max(tables.windows, key=lambda r: tuple(int(p) for p in r.version.split(".")))
        return Judgement(
            Verdict.INDETERMINATE,
            Confidence.TENTATIVE,
            f"NTLM version {version} is not in the Windows lifecycle table (newest build known: {newest.version}, "
            f"{newest.release}); settle with {SETTLE_UNKNOWN}",
            {**base, "judged_on": on.isoformat(), "candidates": [], "settle": [SETTLE_UNKNOWN]},
        )
    return judge_releases(f"NTLM version {version}", rows, on, hints, base)
