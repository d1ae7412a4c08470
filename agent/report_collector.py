"""`duecare report --collector`: the latest signed report of a site plus its history, over HTTP.

Talks to the collector's read API only (``/v1/clients``, ``/v1/changes``, ``/v1/findings``,
``/v1/reports/{id}``) with an MSP read key; the client is passed in so tests can use the app's
own test client or a real server on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from agent.report_history import (
    ChangeIn,
    ChangesPageIn,
    ClientsIn,
    FindingIn,
    FindingsPageIn,
    History,
    StoredReportIn,
    replay,
)
from agent.signing import signature_ok
from agent.state import load_public_key
from wire import Report, SignedReport

M = TypeVar("M", bound=BaseModel)
PAGE = 1000


class CollectorReportError(Exception):
    """The collector refused, could not be reached, or has nothing to report for the site."""


def open_client(base_url: str, read_key: str, timeout_s: float = 60.0) -> httpx.Client:
    return httpx.Client(
        base_url=base_url.rstrip("/"), timeout=timeout_s, headers={"authorization": f"Bearer {read_key}"}
    )


def _get(client: httpx.Client, path: str, model: type[M], params: dict[str, str | int] | None = None) -> M:
    try:
        resp = client.get(path, params=params)
    except httpx.HTTPError as exc:
        raise CollectorReportError(f"collector unreachable: {type(exc).__name__}: {exc}") from exc
    if resp.status_code != 200:
        try:
            detail = resp.json().get("detail", resp.text)
        except ValueError:
            detail = resp.text[:200]
        raise CollectorReportError(f"collector answered {resp.status_code} for {path}: {detail}")
    try:
        return model.model_validate_json(resp.content)
    except ValidationError as exc:
        raise CollectorReportError(f"unexpected answer from {path}: {exc.errors()[0]['msg']}") from exc


@dataclass(frozen=True)
class SiteRef:
    client_id: str
    client: str
    site_id: str
    site: str


def find_site(client: httpx.Client, wanted: str) -> SiteRef:
    """A site by id, or by name when the name is unique among the sites this key may read."""
    clients = _get(client, "/v1/clients", ClientsIn).clients
    pairs = [(c, s) for c in clients for s in c.sites]
    for c, s in pairs:
        if s.id == wanted:
            return SiteRef(c.id, c.name, s.id, s.name)
    named = [(c, s) for c, s in pairs if s.name.casefold() == wanted.casefold()]
    if len(named) == 1:
        c, s = named[0]
        return SiteRef(c.id, c.name, s.id, s.name)
    if named:
        ids = ", ".join(f"{s.id} ({c.name})" for c, s in named)
        raise CollectorReportError(f"site name {wanted!r} is ambiguous; use one of the ids: {ids}")
    known = ", ".join(f"{s.id} {s.name!r}" for _, s in pairs) or "none"
    raise CollectorReportError(f"no site {wanted!r} readable with this key (sites: {known})")


def _changes(client: httpx.Client, site_id: str) -> Iterator[ChangeIn]:
    cursor = "0"
    while True:
        page = _get(client, "/v1/changes", ChangesPageIn, {"site": site_id, "cursor": cursor, "limit": PAGE})
        yield from page.changes
        if not page.has_more or page.next_cursor == cursor:
            return
        cursor = page.next_cursor


def _findings(client: httpx.Client, site_id: str) -> Iterator[FindingIn]:
    cursor: str | None = "0"
    while cursor is not None:
        page = _get(client, "/v1/findings", FindingsPageIn, {"site": site_id, "cursor": cursor, "limit": PAGE})
        yield from page.findings
        cursor = page.next_cursor


def fetch_site_report(client: httpx.Client, site: str) -> tuple[Report, History]:
    """The site's most recent report (by scan time) as signed, with the feed replayed for history."""
    ref = find_site(client, site)
    changes = list(_changes(client, ref.site_id))
    summaries = [c.report for c in changes if c.kind == "report" and c.report is not None]
    if not summaries:
        raise CollectorReportError(f"site {ref.site!r} ({ref.site_id}) has no reports at the collector yet")
    latest = max(summaries, key=lambda s: s.finished_at)
    stored = _get(client, f"/v1/reports/{latest.report_id}", StoredReportIn)
    try:
        report = Report.model_validate(stored.report)
    except ValidationError as exc:
        raise CollectorReportError(f"report {latest.report_id} does not validate: {exc.errors()[0]['msg']}") from exc
    try:
        valid: bool | None = signature_ok(
            SignedReport(report=stored.report, signature=stored.signature), load_public_key(stored.agent_public_key)
        )
    except (ValueError, TypeError):
        valid = None
    points, gaps = replay(changes)
    tracks = {f.key: f for f in _findings(client, ref.site_id)}
    history = History(
        client=ref.client,
        site=ref.site,
        points=tuple(points),
        tracks=tracks,
        chain_gaps=gaps,
        signature=stored.signature,
        signature_valid=valid,
        agent_public_key=stored.agent_public_key,
    )
    return report, history
