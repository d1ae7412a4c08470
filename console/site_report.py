"""The site's due-diligence report, rendered by the report's own renderer from the collector in process.

``report.commands.fetch_site_report`` reads a collector through a ``SiteSource``; ``duecare report
--collector`` hands it the HTTP client, the console hands it this, which answers the same four
questions with the read API's own queries and models under the viewer's scope. One renderer.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from duecare.collector import queries
from duecare.collector.api.routes.reports import get_report
from duecare.collector.db.models import Client, Site
from duecare.collector.errors import NotFound
from duecare.collector.ids import Ids, Kind, public_change
from duecare.collector.schemas import finding_out
from duecare.collector.state import AppState
from duecare.report.client import SiteRef
from duecare.report.commands import fetch_site_report
from duecare.report.html import render
from duecare.wire.api import ChangeOut, FindingOut, StoredReport

_PAGE = 5000


class InProcessSource:
    def __init__(self, state: AppState, scope: queries.ReaderScope) -> None:
        self.state, self.scope = state, scope

    def find_site(self, wanted: str) -> SiteRef:
        with self.state.db.read() as s:
            queries.resolve(s, self.scope, None, wanted)
            site = s.get_one(Site, wanted)
            client = s.get_one(Client, site.client_id)
            return SiteRef(client.id, client.name, site.id, site.name)

    def changes(self, *, site: str | None = None, cursor: str = "0") -> Iterator[ChangeOut]:
        """``cursor``: an internal change id (this source is in-process, not a reader)."""
        after = int(cursor)
        while True:
            with self.state.db.read() as s:
                ids = Ids.of(s, self.scope.client_id)
                raw = queries.changes_after_raw(s, queries.resolve(s, self.scope, None, site), after, _PAGE)
                page = [ChangeOut.model_validate(public_change(ids, c)) for c in raw]
            yield from page
            if len(raw) < _PAGE:
                return
            after = int(raw[-1]["id"])

    def findings(self, *, site: str | None = None) -> Iterator[FindingOut]:
        after = 0
        while True:
            with self.state.db.read() as s:
                ids = Ids.of(s, self.scope.client_id)
                rows = queries.findings_after(s, queries.resolve(s, self.scope, None, site), None, after, _PAGE)
                page = [finding_out(r, public_id=ids.public(Kind.FINDING, r.client_id, r.id)) for r in rows]
            yield from page
            if len(rows) < _PAGE:
                return
            after = rows[-1].id

    def stored_report(self, report_id: str) -> StoredReport:
        try:
            wanted = uuid.UUID(report_id)
        except ValueError as exc:
            raise NotFound(f"no report {report_id!r}") from exc
        return get_report(self.state, self.scope, wanted)


def site_report_html(state: AppState, scope: queries.ReaderScope, site_id: str) -> tuple[str, str]:
    """(file name, HTML) of the site's latest report with its history; NotFound outside the scope."""
    from duecare.report.errors import ReadClientError

    try:
        report, history = fetch_site_report(InProcessSource(state, scope), site_id)
    except ReadClientError as exc:
        raise NotFound(str(exc)) from exc
    return f"duecare-report-{site_id}-{uuid.UUID(str(report.report_id)).hex[:8]}.html", render(report, history=history)
