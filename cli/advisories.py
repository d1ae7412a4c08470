"""`duecare advisories list|show|validate|update-kev|update-ssvc`: argument parsing only; the work is in advisories/."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from duecare.advisories.catalog import Catalog, collect
from duecare.advisories.errors import CatalogError
from duecare.advisories.kev_update import KEV_FEED_URL, KevUpdateError
from duecare.advisories.manage import list_advisories, show_advisory, update_kev, update_ssvc, validate
from duecare.advisories.ssvc import SsvcUpdateError
from duecare.agent.feeds import FeedError, read_source
from duecare.agent.state import DEFAULT_STATE_DIR
from duecare.cli.common import err, fail, typer_app, warn

app = typer_app(help="The advisory catalog: list, show, validate; refresh the KEV and SSVC snapshots.")
out = Console(highlight=False)

StateOpt = Annotated[
    Path, typer.Option("--state-dir", metavar="DIR", help="Agent state directory (holds the KEV update).")
]
DataOpt = Annotated[
    Path | None, typer.Option("--data-dir", metavar="DIR", help="Catalog data directory (default: packaged).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON on stdout.")]


def _catalog(data_dir: Path | None, state_dir: Path | None) -> Catalog:
    """What loads, with a warning for what does not: browsing should survive one bad file."""
    catalog, problems = collect(data_dir, state_dir)
    if problems:
        warn(
            f"{len(problems)} catalog problem(s), first: {problems[0]} "
            "(run `duecare advisories validate` for all of them)"
        )
    return catalog


@app.command("list")
def list_(data_dir: DataOpt = None, state_dir: StateOpt = DEFAULT_STATE_DIR, as_json: JsonOpt = False) -> None:
    """Every advisory in the catalog, with the exposure ids it flags."""
    catalog = _catalog(data_dir, state_dir)
    advisories = list_advisories(catalog)
    if as_json:
        print(json.dumps([a.model_dump(mode="json") for a in advisories], indent=2))
        return
    table = Table("id", "official id", "published", "severity", "flags", title=f"catalog {catalog.version[:12]}")
    for a in advisories:
        flags = ", ".join(a.flags) if a.observable else "(not observable from the LAN)"
        table.add_row(f"{a.publisher}/{a.id}", a.official_id, a.published.isoformat(), a.severity.value, flags)
    out.print(table)
    err.print(f"{len(advisories)} advisories; KEV {catalog.kev_version or 'missing'}", highlight=False)


@app.command()
def show(
    advisory: Annotated[
        str,
        typer.Argument(metavar="ADVISORY", help="Id as `list` prints it (cisa/aa22-137a) or official id (AA22-137A)."),
    ],
    data_dir: DataOpt = None,
    state_dir: StateOpt = DEFAULT_STATE_DIR,
    as_json: JsonOpt = False,
) -> None:
    """One advisory: provenance, CVEs with their KEV status, requirements that cite it."""
    catalog = _catalog(data_dir, state_dir)
    try:
        detail = show_advisory(catalog, advisory, datetime.now(UTC))
    except KeyError as exc:
        raise fail(str(exc.args[0])) from exc
    a = detail.advisory
    if as_json:
        doc = {
            "advisory": a.model_dump(mode="json"),
            "kev": [k.model_dump(mode="json") for k in detail.kev],
            "requirements": [{"framework": f, "requirement": r} for f, r in detail.requirements],
        }
        print(json.dumps(doc, indent=2))
        return
    out.print(f"[bold]{a.official_id}[/] — {a.title}\n{a.issued_by}, {a.published}  ({a.publisher}/{a.id})")
    if a.url:
        out.print(a.url)
    out.print(f"\nseverity {a.severity.value}; flags: {', '.join(a.flags) or 'nothing observable'}")
    if a.what_would_settle_it:
        out.print(f"not checkable from the LAN: {a.what_would_settle_it}")
    # Data files wrap at ~100 columns; let the terminal do the wrapping instead.
    out.print(f"\n{' '.join(a.summary.split())}\n\n[bold]Remediation[/]\n{' '.join(a.remediation.split())}")
    for k in detail.kev:
        state = {True: "in KEV", False: "not in KEV", None: "KEV unknown"}[k.known_exploited]
        dates = f" added {k.kev_date_added}, due {k.kev_due_date}, ransomware {k.known_ransomware_campaign_use}"
        out.print(f"  {k.cve}: {state}" + (dates if k.known_exploited else f" ({k.note})"))
    for fw, req in detail.requirements:
        out.print(f"  relevant to {fw} {req}")


@app.command("validate")
def validate_(
    directory: Annotated[
        Path | None, typer.Argument(metavar="DIR", help="Data directory (default: the packaged one).")
    ] = None,
) -> None:
    """Check every data file; print every problem (file:line [field]: message). Exit 1 if any."""
    problems = validate(directory)
    for p in problems:
        print(p)  # one problem per line, unwrapped: file:line [field]: message
    if problems:
        raise fail(f"{len(problems)} problem(s)", 1)
    err.print("catalog valid")


@app.command("update-kev")
def update_kev_(
    source: Annotated[
        str | None,
        typer.Option("--from", metavar="FILE|URL", help="A KEV JSON file or http(s) URL (default: CISA's feed)."),
    ] = None,
    state_dir: StateOpt = DEFAULT_STATE_DIR,
    data_dir: DataOpt = None,
) -> None:
    """Validate a newer KEV feed against CISA's schema and install it atomically in the state dir."""
    try:
        where = source or KEV_FEED_URL
        result = update_kev(state_dir, read_source(where), where, data_dir=data_dir)
    except (FeedError, KevUpdateError, CatalogError, OSError) as exc:
        raise fail(str(exc), 1) from exc
    verb = "installed" if result.changed else "already current:"
    was = f" (was {result.previous_version})" if result.previous_version else ""
    err.print(f"KEV {verb} {result.catalog_version}, {result.count} entries{was} → {result.path}", highlight=False)


@app.command("update-ssvc")
def update_ssvc_(
    source: Annotated[
        str,
        typer.Option(
            "--from",
            metavar="FILE|URL",
            help="CISA Vulnrichment CVE record(s) (JSON: one record or a list) or a CSV in the snapshot's layout; "
            "a file or an http(s) URL.",
        ),
    ],
    state_dir: StateOpt = DEFAULT_STATE_DIR,
    data_dir: DataOpt = None,
) -> None:
    """Merge newer SSVC values (BOD 26-04's Automatable and Technical Impact) into the state dir."""
    try:
        result = update_ssvc(state_dir, read_source(source), source, data_dir=data_dir)
    except (FeedError, SsvcUpdateError, CatalogError, OSError) as exc:
        raise fail(str(exc), 1) from exc
    err.print(
        f"SSVC: read {result.read} value set(s), {result.changed} changed; {result.total} CVEs → {result.path}",
        highlight=False,
    )
