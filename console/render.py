"""Templates and the headers every console answer carries.

jinja2 with autoescape on for every template: text from the network (banners, host names, titles)
only ever reaches a page escaped. No page has a script or a style attribute, so the CSP can forbid
both; the one stylesheet is served by the console itself.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "x-frame-options": "DENY",
}


def ago(when: datetime | None, now: datetime | None = None) -> str:
    if when is None:
        return "never"
    now = now or datetime.now(UTC)
    delta = now - when
    if delta < timedelta(minutes=1):
        return "just now"
    if delta < timedelta(hours=1):
        return f"{int(delta.total_seconds() // 60)} min ago"
    if delta < timedelta(days=2):
        return f"{int(delta.total_seconds() // 3600)} h ago"
    return f"{delta.days} days ago"


def stamp(when: datetime | date | None) -> str:
    if when is None:
        return "—"
    if isinstance(when, datetime):
        return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return when.isoformat()


def duration(delta: timedelta | None) -> str:
    if delta is None:
        return "—"
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.0f} days"


def query(**params: Any) -> str:
    """A query string of the non-empty parameters (links keep the page's sort, filter and pages)."""
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("duecare.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(ago=ago, stamp=stamp, duration=duration)
    env.globals["query"] = query
    env.globals["paged"] = lambda base, name, number: query(**{**base, name: number})
    return env


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = environment().get_template(template).render(request=request, **context)
    return HTMLResponse(html, status_code=status_code, headers=HEADERS)
