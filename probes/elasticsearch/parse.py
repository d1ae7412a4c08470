"""Pure parsing of Elasticsearch's root API and ``_cat/indices`` (Elastic REST API reference)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from duecare.probes.errors import ProtocolError

TAGLINE = "You Know, for Search"


@dataclass(frozen=True, slots=True)
class RootInfo:
    auth_enforced: bool
    challenge: str | None = None
    product: str | None = None
    version: str | None = None
    cluster_name: str | None = None
    node_name: str | None = None
    build_flavor: str | None = None


def _json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ProtocolError(f"not JSON: {type(exc).__name__}") from exc


def _str(value: object, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _is_es_error(doc: object) -> bool:
    """ES security errors: ``{"error": {"type": "security_exception", ...}, "status": 401}``."""
    if not isinstance(doc, dict) or not isinstance(doc.get("error"), dict):
        return False
    return str(doc["error"].get("type", "")).endswith("_exception")


def parse_root(status: int, headers: Mapping[str, str], body: bytes) -> RootInfo:
    """``GET /`` → what the node disclosed, or ProtocolError when it is not Elasticsearch at all."""
    product_header = headers.get("x-elastic-product")
    if status in (401, 403):
        challenge = headers.get("www-authenticate")
        doc = _json(body) if body.strip() else None
        if not (product_header or _is_es_error(doc) or (challenge and 'realm="security"' in challenge)):
            raise ProtocolError(f"HTTP {status} without any sign of Elasticsearch")
        return RootInfo(auth_enforced=True, challenge=_str(challenge, 300), product=product_header)
    if status != 200:
        raise ProtocolError(f"GET / answered HTTP {status}")
    doc = _json(body)
    if not isinstance(doc, dict) or not isinstance(doc.get("version"), dict):
        raise ProtocolError("GET / JSON without a version object: not Elasticsearch")
    version = doc["version"]
    if doc.get("tagline") != TAGLINE and "cluster_name" not in doc and not product_header:
        raise ProtocolError("GET / JSON without tagline or cluster_name: not Elasticsearch")
    product = "OpenSearch" if version.get("distribution") == "opensearch" else "Elasticsearch"
    return RootInfo(
        auth_enforced=False,
        product=product,
        version=_str(version.get("number"), 64),
        cluster_name=_str(doc.get("cluster_name"), 256),
        node_name=_str(doc.get("name"), 256),
        build_flavor=_str(version.get("build_flavor"), 64),
    )


def count_indices(body: bytes) -> int:
    """``GET /_cat/indices?format=json&h=index`` → how many indices (the names are not kept)."""
    doc = _json(body)
    if not isinstance(doc, list) or not all(isinstance(row, dict) for row in doc):
        raise ProtocolError("_cat/indices did not return a JSON list of rows")
    return len(doc)
