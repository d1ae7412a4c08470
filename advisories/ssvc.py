"""CISA's SSVC decision points per CVE (Vulnrichment): the packaged snapshot, newer data, and updates.

Two of BOD 26-04's four inputs (Automatable, Technical Impact) come from here. The packaged snapshot
is read-only; ``duecare advisories update-ssvc`` merges newer values (our CSV layout or Vulnrichment
CVE records) into ``<state>/ssvc/``, the later SSVC timestamp winning per CVE.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from duecare.advisories.errors import AdvisoriesError, CatalogError
from duecare.files import write_atomic
from duecare.wire import Ssvc

SSVC_FILE = "vulnrichment-ssvc.csv"
COLUMNS = ("cve", "exploitation", "automatable", "technical_impact", "ssvc_timestamp", "source_path", "source_commit")
_EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


class SsvcUpdateError(AdvisoriesError):
    """The data could not be parsed or validated; the installed snapshot is untouched."""


@dataclass(frozen=True, slots=True)
class SsvcRow:
    cve: str
    ssvc: Ssvc
    source_path: str = ""
    source_commit: str = ""

    @property
    def when(self) -> datetime:
        return self.ssvc.timestamp or _EPOCH


def _decision(cve: str, exploitation: str, automatable: str, impact: str, timestamp: str, source: str) -> Ssvc:
    try:
        return Ssvc.model_validate(
            {
                "exploitation": exploitation.strip().lower(),
                "automatable": {"yes": True, "no": False}[automatable.strip().lower()],
                "technical_impact": impact.strip().lower(),
                "timestamp": timestamp or None,
                "source": source,
            }
        )
    except (KeyError, ValidationError) as exc:
        raise ValueError(f"{cve}: bad SSVC values ({exploitation!r}, {automatable!r}, {impact!r})") from exc


def parse_csv(text: str, origin: str) -> list[SsvcRow]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS[:4] if c not in (reader.fieldnames or ())]
    if missing:
        raise ValueError(f"{origin}: missing columns {', '.join(missing)}")
    out = []
    for n, r in enumerate(reader, start=2):
        cve = (r.get("cve") or "").strip()
        if not cve.startswith("CVE-"):
            raise ValueError(f"{origin}: line {n}: {cve!r} is not a CVE id")
        path, commit = r.get("source_path") or "", r.get("source_commit") or ""
        source = f"cisagov/vulnrichment {path}" + (f" @ {commit[:12]}" if commit else "") if path else origin
        try:
            decision = _decision(
                cve, r["exploitation"], r["automatable"], r["technical_impact"], r.get("ssvc_timestamp") or "", source
            )
        except ValueError as exc:
            raise ValueError(f"{origin}: line {n}: {exc}") from exc
        out.append(SsvcRow(cve, decision, path, commit))
    return out


def _adp_ssvc(record: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    containers = record.get("containers")
    adps = containers.get("adp", []) if isinstance(containers, Mapping) else []
    for adp in adps if isinstance(adps, list) else []:
        meta = adp.get("providerMetadata", {}) if isinstance(adp, Mapping) else {}
        if not isinstance(meta, Mapping) or meta.get("shortName") != "CISA-ADP":
            continue
        for metric in adp.get("metrics", []) or []:
            other = metric.get("other") if isinstance(metric, Mapping) else None
            if isinstance(other, Mapping) and other.get("type") == "ssvc" and isinstance(other.get("content"), Mapping):
                yield other["content"]


def parse_records(document: Any, origin: str) -> list[SsvcRow]:
    """Vulnrichment CVE JSON 5 records (one object or a list): the CISA ADP container's SSVC, by key."""
    records = document if isinstance(document, list) else [document]
    out = []
    for rec in records:
        if not isinstance(rec, Mapping):
            raise ValueError(f"{origin}: not a CVE record")
        meta = rec.get("cveMetadata")
        cve = meta.get("cveId") if isinstance(meta, Mapping) else None
        if not isinstance(cve, str) or not cve.startswith("CVE-"):
            raise ValueError(f"{origin}: a record without cveMetadata.cveId")
        for content in _adp_ssvc(rec):
            options: dict[str, str] = {}
            for opt in content.get("options", []) or []:
                if isinstance(opt, Mapping):
                    options.update({str(k).lower(): str(v) for k, v in opt.items()})
            try:
                decision = _decision(
                    cve,
                    options.get("exploitation", ""),
                    options.get("automatable", ""),
                    options.get("technical impact", ""),
                    str(content.get("timestamp") or ""),
                    f"Vulnrichment record {cve} ({origin})",
                )
            except ValueError as exc:
                raise ValueError(f"{origin}: {exc}") from exc
            out.append(SsvcRow(cve, decision))
    return out


def parse(raw: bytes, origin: str) -> list[SsvcRow]:
    """Our CSV layout or Vulnrichment JSON, whichever the bytes are."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{origin}: not UTF-8 text") from exc
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return parse_records(json.loads(stripped), origin)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{origin}: not JSON: {exc}") from exc
    return parse_csv(text, origin)


def merge(*sets: Iterable[SsvcRow]) -> dict[str, SsvcRow]:
    """Per CVE, the row with the latest SSVC timestamp (a later set wins a tie)."""
    out: dict[str, SsvcRow] = {}
    for rows in sets:
        for r in rows:
            if r.cve not in out or r.when >= out[r.cve].when:
                out[r.cve] = r
    return out


def to_csv(rows: Mapping[str, SsvcRow]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for cve in sorted(rows):
        r = rows[cve]
        s = r.ssvc
        w.writerow(
            [
                cve,
                s.exploitation,
                "yes" if s.automatable else "no",
                s.technical_impact,
                "" if s.timestamp is None else s.timestamp.isoformat().replace("+00:00", "Z"),
                r.source_path,
                r.source_commit,
            ]
        )
    return buf.getvalue().encode("utf-8")


def state_ssvc_path(state_dir: Path) -> Path:
    return state_dir / "ssvc" / SSVC_FILE


def _load_file(path: Path) -> list[SsvcRow]:
    try:
        return parse_csv(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CatalogError(path, f"SSVC snapshot does not load: {exc}") from exc


def load_ssvc(packaged_dir: Path, state_dir: Path | None = None) -> dict[str, SsvcRow]:
    """The packaged snapshot merged with the state-dir update, if any."""
    sets = []
    packaged = packaged_dir / SSVC_FILE
    if packaged.is_file():
        sets.append(_load_file(packaged))
    if state_dir is not None and state_ssvc_path(state_dir).is_file():
        sets.append(_load_file(state_ssvc_path(state_dir)))
    return merge(*sets)


@dataclass(frozen=True, slots=True)
class SsvcUpdateResult:
    path: Path
    read: int
    changed: int
    total: int


def update_ssvc(packaged_dir: Path, state_dir: Path, raw: bytes, source: str) -> SsvcUpdateResult:
    """Merge the values in ``raw`` (read from ``source``) over what is installed; write the state copy."""
    try:
        new = parse(raw, source)
    except ValueError as exc:
        raise SsvcUpdateError(str(exc)) from exc
    if not new:
        raise SsvcUpdateError(f"{source}: no SSVC values found (no CISA ADP container with an ssvc metric)")
    try:
        current = load_ssvc(packaged_dir, state_dir)
    except CatalogError:
        current = load_ssvc(packaged_dir)  # a damaged state copy is what an update replaces
    merged = merge(current.values(), new)
    changed = sum(1 for cve, r in merged.items() if current.get(cve) != r)
    target = state_ssvc_path(state_dir)
    if changed or not target.is_file():
        write_atomic(target, to_csv(merged), mode=0o644)
    return SsvcUpdateResult(target, len(new), changed, len(merged))
