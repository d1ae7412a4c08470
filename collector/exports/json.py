"""JSON export: a document streamed in pieces, one array of the public models."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from pydantic import BaseModel


def stream_array(key: str, items: Iterable[BaseModel], extra: str = "") -> Iterator[bytes]:
    """``{"<key>": [item, …]<extra>}`` without holding the whole export in memory."""
    yield b'{"' + key.encode() + b'":['
    first = True
    for item in items:
        yield (b"" if first else b",") + item.model_dump_json().encode("utf-8")
        first = False
    yield b"]" + extra.encode("utf-8") + b"}"
