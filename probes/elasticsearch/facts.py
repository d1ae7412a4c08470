"""What an Elasticsearch (or OpenSearch) node tells a client without credentials."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from duecare.probes.base import Facts


class ElasticsearchFacts(Facts):
    scheme: Literal["http", "https"]
    #: HTTP status of ``GET /``.
    status: int
    #: ``GET /`` was refused (401, or 403 for an anonymous user without the monitor privilege).
    auth_enforced: bool
    #: ``WWW-Authenticate`` challenge of a 401 (e.g. ``Basic realm="security"``).
    challenge: str | None = Field(default=None, max_length=300)
    #: "Elasticsearch" or "OpenSearch" (read by the KEV matcher), with ``version.number``.
    product: str | None = None
    version: str | None = Field(default=None, max_length=64)
    cluster_name: str | None = Field(default=None, max_length=256)
    node_name: str | None = Field(default=None, max_length=256)
    build_flavor: str | None = Field(default=None, max_length=64)
    #: Indices listed by ``_cat/indices`` (names are not kept); None when not asked or refused.
    index_count: int | None = None
