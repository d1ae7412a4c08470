from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from duecare.collector import queries
from duecare.collector.api.deps import CurrentReader, State
from duecare.collector.api.responses import problems
from duecare.collector.api.routes.params import (
    ClientParam,
    Cursor,
    FindingStatusParam,
    ObligationStatusParam,
    SiteParam,
)
from duecare.collector.api.routes.reads import hostnames
from duecare.collector.exports import MEDIA_TYPES, ExportFormat, Names
from duecare.collector.exports import csv as csv_export
from duecare.collector.exports import json as json_export
from duecare.collector.exports import ocsf as ocsf_export
from duecare.collector.ids import Ids, Kind
from duecare.collector.schemas import finding_out, obligation_out
from duecare.wire.api import COUNT_HEADER, CURSOR_HEADER, ChangeOut

router = APIRouter(prefix="/v1/export", tags=["pull"])

PAGE = 5000
FormatParam = Annotated[ExportFormat, Query(description="json, csv, or ocsf (2002 / 2003 events)")]
_CONTENT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The export, streamed",
        "content": {
            # format=json: {"findings"|"obligations": [...]}; format=ocsf: an array of OCSF events.
            "application/json": {
                "schema": {"anyOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]}
            },
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}
Row = TypeVar("Row")
Out = TypeVar("Out")


def _paged(
    state: State,
    fetch: Callable[[Session, int], Sequence[Row]],
    convert: Callable[[Row], Out],
    key: Callable[[Row], int],
) -> Iterator[Out]:
    """Pages in separate short transactions, so a long download never holds the database."""
    after = 0
    while True:
        with state.db.read() as s:
            rows = fetch(s, after)
            items = [convert(r) for r in rows]
        yield from items
        if len(rows) < PAGE:
            return
        after = key(rows[-1])


def _names(state: State, filters: queries.Filters) -> Names:
    with state.db.read() as s:
        return Names(queries.client_names(s, filters), queries.site_names(s, filters))


def _buffered(chunks: Iterator[bytes], size: int = 256 * 1024) -> Iterator[bytes]:
    """Fewer, larger writes: each chunk of a sync iterator costs a thread hop in Starlette."""
    buf: list[bytes] = []
    held = 0
    for chunk in chunks:
        buf.append(chunk)
        held += len(chunk)
        if held >= size:
            yield b"".join(buf)
            buf, held = [], 0
    yield b"".join(buf)


def _json_array(items: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    yield b"["
    for i, item in enumerate(items):
        yield (b"," if i else b"") + json.dumps(item, separators=(",", ":")).encode()
    yield b"]"


@router.get("/findings", response_class=StreamingResponse, responses={**_CONTENT, **problems(401, 404, 422)})
def export_findings(
    state: State,
    reader: CurrentReader,
    format: FormatParam = ExportFormat.JSON,
    client: ClientParam = None,
    site: SiteParam = None,
    status: FindingStatusParam = None,
) -> StreamingResponse:
    """Every finding in reach, as JSON, CSV, or OCSF Vulnerability Finding (2002) events."""
    with state.db.read() as s:
        filters = queries.resolve(s, reader, client, site)
    names, hosts = _names(state, filters), hostnames(state, filters)
    ids = Ids.of(state.db.engine, filters.client_id)
    items = _paged(
        state,
        lambda s, after: queries.findings_after(s, filters, status, after, PAGE),
        lambda r: finding_out(r, hosts.get((r.site_id, r.ip)), public_id=ids.public(Kind.FINDING, r.client_id, r.id)),
        lambda r: r.id,
    )
    if format is ExportFormat.CSV:
        body: Iterator[bytes] = csv_export.findings_csv(items, names)
    elif format is ExportFormat.OCSF:
        body = _json_array(ocsf_export.finding_events(items, names, product_version=state.product_version))
    else:
        body = json_export.stream_array("findings", items)
    return StreamingResponse(_buffered(body), media_type=MEDIA_TYPES[format])


@router.get("/obligations", response_class=StreamingResponse, responses={**_CONTENT, **problems(401, 404, 422)})
def export_obligations(
    state: State,
    reader: CurrentReader,
    format: FormatParam = ExportFormat.JSON,
    client: ClientParam = None,
    site: SiteParam = None,
    status: ObligationStatusParam = None,
) -> StreamingResponse:
    """Every obligation in reach, as JSON, CSV, or OCSF Compliance Finding (2003) events."""
    with state.db.read() as s:
        filters = queries.resolve(s, reader, client, site)
    names = _names(state, filters)
    ids = Ids.of(state.db.engine, filters.client_id)
    items = _paged(
        state,
        lambda s, after: queries.obligations_after(s, filters, status, after, PAGE),
        lambda r: obligation_out(r, public_id=ids.public(Kind.OBLIGATION, r.client_id, r.id)),
        lambda r: r.id,
    )
    if format is ExportFormat.CSV:
        body: Iterator[bytes] = csv_export.obligations_csv(items, names)
    elif format is ExportFormat.OCSF:
        body = _json_array(ocsf_export.obligation_events(items, names, product_version=state.product_version))
    else:
        body = json_export.stream_array("obligations", items)
    return StreamingResponse(_buffered(body), media_type=MEDIA_TYPES[format])


@router.get("/changes", response_class=StreamingResponse, responses={**_CONTENT, **problems(401, 404, 422)})
def export_changes(
    state: State,
    reader: CurrentReader,
    format: FormatParam = ExportFormat.JSON,
    cursor: Cursor = "0",
    client: ClientParam = None,
    site: SiteParam = None,
) -> StreamingResponse:
    """Every change after ``cursor`` up to the newest one at the time of the request, streamed.

    The ``X-Duecare-Cursor`` header is the cursor to keep once the body is stored (``duecare pull``
    moves its cursor file only then); ``X-Duecare-Count`` is how many changes the body holds.
    """
    with state.db.read() as s:
        filters = queries.resolve(s, reader, client, site)
        ids = Ids.of(s, filters.client_id)
        after = ids.read_cursor(Kind.CURSOR_CHANGES, cursor)
        head, count = queries.changes_head(s, filters, after)
    names = _names(state, filters)
    head_cursor = ids.cursor(Kind.CURSOR_CHANGES, head) if head != after else cursor

    def entries() -> Iterator[ChangeOut]:
        # The JSON export's own entries, read by the model: every format says the same of each change.
        return (ChangeOut.model_validate_json(item) for item in _spliced(state, filters, ids, after, head))

    if format is ExportFormat.CSV:
        body: Iterator[bytes] = csv_export.changes_csv(entries(), names)
    elif format is ExportFormat.OCSF:
        body = _json_array(ocsf_export.change_events(entries(), names, product_version=state.product_version))
    else:
        head_doc = {"cursor_before": cursor, "cursor": head_cursor, "clients": names.tenants, "sites": names.sites}
        body = _json_document(head_doc, "changes", _spliced(state, filters, ids, after, head))
    headers = {CURSOR_HEADER: head_cursor, COUNT_HEADER: str(count)}
    return StreamingResponse(_buffered(body), media_type=MEDIA_TYPES[format], headers=headers)


def _spliced(state: State, filters: queries.Filters, ids: Ids, after: int, head: int) -> Iterator[bytes]:
    """Pages of feed entries already as JSON text (``queries.changes_after_json``)."""
    last = after
    while True:
        with state.db.read() as s:
            items, newest = queries.changes_after_json(s, filters, last, PAGE, ids, until=head)
        yield from items
        if newest is None or len(items) < PAGE:
            return
        last = newest


def _json_document(head: dict[str, Any], key: str, items: Iterator[bytes]) -> Iterator[bytes]:
    """``{<head fields>, "<key>": [item, …]}`` without holding the items in memory."""
    yield json.dumps(head, separators=(",", ":"))[:-1].encode() + b',"' + key.encode() + b'":['
    for i, item in enumerate(items):
        yield (b"," if i else b"") + item
    yield b"]}"
