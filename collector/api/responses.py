"""OpenAPI documentation of the error answers, so clients (and schemathesis) know every status."""

from __future__ import annotations

from typing import Any

from duecare.wire.api import Problem

_WHY = {
    401: "Missing, unknown or revoked credential",
    403: "The credential may not do this (another agent's or site's data)",
    404: "No such resource within the caller's tenants",
    409: "Same report id with a different body",
    413: "Request body over the collector's size limit",
    422: "Invalid request, signature or report (permanent: the detail names the field)",
    429: "Too many reports from this agent for now: wait Retry-After seconds",
    503: "The server's own state (a lock held too long, a full disk): retry after Retry-After seconds",
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": Problem, "description": _WHY[code]} for code in codes}
