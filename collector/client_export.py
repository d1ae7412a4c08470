"""A client's whole record as one JSON file, written before ``collector remove-client`` deletes it.

Streamed page by page (memory stays flat) and written atomically, owner-only (0600): the file holds
the client's findings and its change feed, as the read API would serve them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson

from duecare.collector import queries
from duecare.collector.db.models import Client
from duecare.collector.db.session import Database
from duecare.collector.ids import Ids, Kind, public_change
from duecare.collector.schemas import finding_out
from duecare.files import write_atomic_stream

PAGE = 2000


def _items(db: Database, client_id: str) -> Iterator[bytes]:
    filters = queries.Filters(client_id, None)
    with db.read() as s:
        client = s.get_one(Client, client_id)
        head = {"client_id": client.id, "client": client.name, "sites": queries.site_names(s, filters)}
    yield orjson.dumps(head)[:-1] + b',"findings":['
    after, first = 0, True
    while True:
        with db.read() as s:
            rows = queries.findings_after(s, filters, None, after, PAGE)
            ids = Ids.of(s, client_id)
            chunk = [
                finding_out(r, public_id=ids.public(Kind.FINDING, r.client_id, r.id)).model_dump_json().encode()
                for r in rows
            ]
        for item in chunk:
            yield (b"" if first else b",") + item
            first = False
        if len(rows) < PAGE:
            break
        after = rows[-1].id
    yield b'],"changes":['
    cursor, first = 0, True
    while True:
        with db.read() as s:
            page = queries.changes_after_raw(s, filters, cursor, PAGE)
            ids = Ids.of(s, client_id)
        for change in page:
            yield (b"" if first else b",") + orjson.dumps(public_change(ids, change))
            first = False
        if len(page) < PAGE:
            break
        cursor = int(page[-1]["id"])
    yield b"]}"


def export_client(db: Database, client_id: str, path: Path) -> int:
    """Write the export; returns its size in bytes."""
    return write_atomic_stream(path, _items(db, client_id), mode=0o600)
