"""Public data feeds (CISA's KEV catalog, …) read from a file or downloaded: the network side of
``duecare advisories update-*``. The advisories layer only validates and installs the bytes."""

from __future__ import annotations

from pathlib import Path

import httpx

from duecare.agent.errors import AgentError

#: The KEV feed is ~1.5 MB in 2026; anything far beyond a feed's size is not the feed.
MAX_FEED_BYTES = 64 * 1024 * 1024


class FeedError(AgentError):
    """The feed could not be read or downloaded; nothing was installed."""


def fetch_url(url: str, *, timeout: float = 30.0, limit: int = MAX_FEED_BYTES) -> bytes:
    """GET a feed with a size cap. Only http(s); redirects are not followed (say the final URL)."""
    if not url.startswith(("http://", "https://")):
        raise FeedError(f"not an http(s) URL: {url}")
    try:
        client = httpx.Client(timeout=timeout, follow_redirects=False)
        with client, client.stream("GET", url) as resp:
            if resp.status_code != 200:
                raise FeedError(f"GET {url}: HTTP {resp.status_code}")
            chunks: list[bytes] = []
            size = 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise FeedError(f"GET {url}: body larger than {limit} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.HTTPError as exc:
        raise FeedError(f"GET {url}: {type(exc).__name__}: {exc}") from exc


def read_source(source: str, *, limit: int = MAX_FEED_BYTES) -> bytes:
    """A feed from an http(s) URL or a local file."""
    if source.startswith(("http://", "https://")):
        return fetch_url(source, limit=limit)
    path = Path(source)
    try:
        if path.stat().st_size > limit:
            raise FeedError(f"{path}: larger than {limit} bytes")
        return path.read_bytes()
    except OSError as exc:
        raise FeedError(f"cannot read {path}: {exc}") from exc
