from __future__ import annotations

import json

from fastapi import APIRouter, Response

from duecare.collector import queries
from duecare.collector.api.deps import CurrentReader, State
from duecare.collector.api.responses import problems
from duecare.collector.api.routes.params import ClientParam, Cursor, Limit, SiteParam
from duecare.collector.ids import Ids, Kind, public_change
from duecare.wire.api import ChangesPage

router = APIRouter(prefix="/v1", tags=["pull"])


@router.get("/changes", response_model=ChangesPage, responses=problems(401, 404, 422))
def list_changes(
    state: State,
    reader: CurrentReader,
    cursor: Cursor = "0",
    limit: Limit = 1000,
    client: ClientParam = None,
    site: SiteParam = None,
) -> Response:
    """Everything that changed after ``cursor``, in the collector's ingest order.

    Change ids become visible strictly in order (collector/changes.py), so paging with the
    returned ``next_cursor`` never skips a change, however pulls and ingests interleave. Ids and
    cursors are opaque and per client (collector/ids.py): a cursor works only for the key and
    scope (client, or all clients) it was given to; another is a 422 that says so.
    """
    limit = min(limit, state.settings.max_page_size)
    with state.db.read() as s:
        filters = queries.resolve(s, reader, client, site)
        ids = Ids.of(s, filters.client_id)
        after = ids.read_cursor(Kind.CURSOR_CHANGES, cursor)
        page = queries.changes_after_raw(s, filters, after, limit + 1)
    more = len(page) > limit
    page = page[:limit]
    next_cursor = ids.cursor(Kind.CURSOR_CHANGES, int(page[-1]["id"])) if page else cursor
    # Serialised directly: a nightly pull is 100,000s of entries, and each was validated as a
    # ChangePayload when it was written (the contract test checks the served shape).
    body = {"changes": [public_change(ids, c) for c in page], "next_cursor": next_cursor, "has_more": more}
    return Response(json.dumps(body, separators=(",", ":")).encode(), media_type="application/json")
