"""Exchange predicates (ADV-004…007: ProxyLogon, ProxyShell, ProxyNotShell, end of support).

The build tables are loaded once when the registry is built and closed over here; the day judged is
``ExchangeFacts.observed_on``, never the clock at evaluation time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pydantic import JsonValue

from duecare.advisories.exchange import (
    ExchangeTables,
    Identified,
    Patch,
    Support,
    identify,
    load_exchange_tables,
    patch,
    support,
)
from duecare.advisories.predicates.base import Check, PredicateRegistry, affected, indeterminate, not_affected
from duecare.probes.exchange.facts import BuildObservation, BuildPrecision, ExchangeFacts
from duecare.wire import Confidence

_SETTLE = (
    "a full 4-part build would settle it: the ECP export-tool manifest "
    "(/ecp/Current/exporttool/…application) or an X-OWA-Version header, or HealthChecker run on the server"
)
_LIST_CAP = 200
#: Microsoft ships SUs about monthly; a table older than this may miss one.
_STALE_AFTER_DAYS = 45


def _gate(f: ExchangeFacts) -> Check | None:
    """Ports with nothing to judge: no Exchange answered, or plain HTTP that only points at HTTPS."""
    if f.redirects_to_https:
        return not_affected("plain HTTP only redirects to HTTPS on the same host; the HTTPS port is judged")
    if not f.exchange_detected:
        return not_affected("no Exchange web surface answered")
    return None


def _no_build(f: ExchangeFacts) -> Check:
    seen = ", ".join(f"{r.path} {r.status or r.error}" for r in f.responses)
    why = f"Exchange answered ({seen}) but disclosed no build"
    if f.external_login_host:
        why += f"; OWA sends logons to {f.external_login_host} (hybrid/federated sign-in, no on-prem version)"
    return indeterminate(f"{why}; {_SETTLE}", confidence=Confidence.TENTATIVE)


def _details(
    b: BuildObservation, ident: Identified, sup: Support | None, pat: Patch | None, tables_newest: date
) -> dict[str, JsonValue]:
    d: dict[str, JsonValue] = {
        "build": b.version,
        "build_source": b.source.value,
        "build_precision": b.precision.value,
        "build_path": b.path,
        "product": None if ident.product is None else ident.product.value,
        "cu": ident.cu_label,
        "judged_as_of": ident.as_of.isoformat(),
        "table_newest": tables_newest.isoformat(),
    }
    if ident.installed is not None:
        d["installed"] = ident.installed.name
        d["build_in_table"] = ident.exact
    if sup is not None:
        d["end_of_support"] = None if sup.end_of_support is None else sup.end_of_support.isoformat()
        d["cu_serviced"] = sup.cu_serviced
    if pat is not None and pat.latest is not None:
        d["latest_su"] = {
            "name": pat.latest.name,
            "date": pat.latest.when,
            "build": str(pat.latest.build_short),
        }
        missing: list[JsonValue] = [
            {"id": m.cve, "su": m.su_name, "on_this_cu": m.on_this_cu} for m in pat.missing[:_LIST_CAP]
        ]
        d["missing_fixes"] = missing
        d["config_dependent"] = list(pat.config_dependent)
    return d


def _product_cu(ident: Identified) -> str:
    product = "Exchange" if ident.product is None else ident.product.value
    return f"{product} {ident.cu_label}" if ident.cu_label else product


def _esu_note(pat: Patch, sup: Support) -> str:
    eos = sup.end_of_support
    if pat.latest is not None and eos is not None and pat.latest.release_date > eos:
        return f" (released after end of support {eos}: ESU customers only)"
    return ""


def _stale_note(f: ExchangeFacts, tables: ExchangeTables) -> str:
    """A "current" verdict is only as fresh as the table: say so once it is months old."""
    age = (f.observed_on - tables.newest_release).days
    if age <= _STALE_AFTER_DAYS:
        return ""
    return f" (build table ends {tables.newest_release}, {age} days before this scan: a newer SU may exist)"


@dataclass(frozen=True, slots=True)
class _Known:
    """A build both judges can reason about: observed, identified, with a known product."""

    build: BuildObservation
    ident: Identified
    sup: Support
    what: str


def _known(f: ExchangeFacts, tables: ExchangeTables) -> Check | _Known:
    """The checks both judges start with; a Check when there is nothing further to judge."""
    gate = _gate(f)
    if gate is not None:
        return gate
    b = f.build
    if b is None:
        return _no_build(f)
    ident = identify(tables, b.parts, f.observed_on)
    sup = support(tables, ident)
    if sup is None:
        return indeterminate(f"build {b.version} matches no known Exchange product", confidence=Confidence.TENTATIVE)
    return _Known(b, ident, sup, f"{_product_cu(ident)} (build {b.version} from {b.source.value})")


def judge_unsupported(f: ExchangeFacts, tables: ExchangeTables) -> Check:
    """Product past end of support, or a CU the product's SU releases no longer cover."""
    k = _known(f, tables)
    if isinstance(k, Check):
        return k
    b, ident, sup, what = k.build, k.ident, k.sup, k.what
    details = _details(b, ident, sup, None, tables.newest_release)
    if sup.ended:
        return affected(f"{what} is out of support since {sup.end_of_support}", details=details)
    if sup.cu_serviced is False and sup.newest_su is not None:
        last = f"{sup.newest_su.update} ({sup.newest_su.release_date})"
        return affected(f"{what}: the CU no longer gets security updates (skipped by {last})", details=details)
    if not ident.cu_rows:
        return indeterminate(
            f"{what}: CU not in the build table (newest row {tables.newest_release}); refresh the table",
            confidence=Confidence.TENTATIVE,
            details=details,
        )
    return not_affected(f"{what} is in support", details=details)


def judge_unpatched(f: ExchangeFacts, tables: ExchangeTables) -> Check:
    """The build lacks its CU's latest security update, or fixes its CU never received."""
    k = _known(f, tables)
    if isinstance(k, Check):
        return k
    b, ident, sup, what = k.build, k.ident, k.sup, k.what
    pat = patch(tables, ident)
    details = _details(b, ident, sup, pat, tables.newest_release)
    if pat is None or pat.latest is None:
        if sup.ended:
            return affected(f"{what}: no security updates since end of support {sup.end_of_support}", details=details)
        return indeterminate(
            f"{what}: CU not in the build table (newest row {tables.newest_release}); refresh the table",
            confidence=Confidence.TENTATIVE,
            details=details,
        )
    cves = tuple(m.cve for m in pat.missing if m.cve.startswith("CVE-"))
    latest = f"{pat.latest.update or pat.latest.cu_label} ({pat.latest.when}, {pat.latest.build_short})"
    never = [m for m in pat.missing if not m.on_this_cu]
    never_text = f"; {len(never)} fixes never shipped for this CU (upgrade the CU)" if never else ""

    if b.precision is BuildPrecision.FULL:
        if pat.behind:
            row = ident.installed
            installed = row.update if row is not None and row.update else f"the {ident.cu_label} release build"
            return affected(
                f"{what} is at {installed}; missing {latest}{_esu_note(pat, sup)}: "
                f"{len(pat.missing)} fixes absent{never_text}",
                details=details,
                cves=cves,
            )
        if pat.missing:
            return affected(f"{what} is at its CU's latest update {latest}{never_text}", details=details, cves=cves)
        return not_affected(f"{what} has its CU's latest update {latest}{_stale_note(f, tables)}", details=details)

    # CU-level build: the SU cannot be seen (OWA path folders ignore SUs, detection-methods §1.7 G2).
    if pat.missing:
        return affected(
            f"{what}: CU-level build only, but the CU never received fixes for {len(pat.missing)} "
            f"vulnerabilities whatever SU is installed",
            details=details,
            cves=cves,
        )
    if sup.ended:
        esu = bool(_esu_note(pat, sup))
        return affected(
            f"{what}: out of support since {sup.end_of_support}; CU-level build only"
            + ("; fully patched only with ESU updates up to " + latest if esu else ""),
            confidence=Confidence.TENTATIVE if esu else "firm",
            details=details,
        )
    return indeterminate(
        f"{what}: CU-level build only, the SU level cannot be determined remotely "
        f"(latest for this CU: {latest}); {_SETTLE}",
        details=details,
    )


def register(reg: PredicateRegistry, tables: ExchangeTables | None = None) -> None:
    t = tables if tables is not None else load_exchange_tables()

    @reg.add("exchange.unsupported", ExchangeFacts)
    def exchange_unsupported(f: ExchangeFacts, _p: object) -> Check:
        """Exchange product past end of support, or on a CU that no longer receives SUs."""
        return judge_unsupported(f, t)

    @reg.add("exchange.unpatched", ExchangeFacts)
    def exchange_unpatched(f: ExchangeFacts, _p: object) -> Check:
        """Exchange build behind its CU's latest SU, or missing fixes its CU never received."""
        return judge_unpatched(f, t)
