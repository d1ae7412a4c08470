"""Pure matching of what a port said against the RMM table."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from duecare.probes.rmm.facts import RmmFacts, RmmMatch
from duecare.probes.rmm.table import Product

_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
MAX_BODY = 64 * 1024


def http_text(status: int, raw_headers: Sequence[tuple[bytes, bytes]], body: bytes) -> str:
    """Status line, headers as sent, and the start of the body: what http_regex patterns see."""
    head = f"HTTP/1.1 {status}\r\n" + "".join(
        f"{k.decode('latin-1')}: {v.decode('latin-1')}\r\n" for k, v in raw_headers[:64]
    )
    return head + "\r\n" + body[:MAX_BODY].decode("utf-8", "replace")


def title(text: str | None) -> str | None:
    if not text:
        return None
    m = _TITLE.search(text)
    return None if m is None else " ".join(html.unescape(m.group(1)).split())[:200] or None


def printable(banner: bytes | None) -> str | None:
    if not banner:
        return None
    return "".join(ch if ch.isprintable() else "." for ch in banner[:512].decode("latin-1"))


def match_products(candidates: Sequence[Product], banner: bytes | None, http: tuple[int, str] | None) -> RmmFacts:
    text = None if http is None else http[1]
    matches = []
    for p in candidates:
        if p.matches(banner, text):
            basis = "banner matched" if p.check == "banner" else "web page matched"
            matches.append(RmmMatch(product=p.name, confidence="firm", basis=basis))
        elif p.check == "none":
            matches.append(RmmMatch(product=p.name, confidence="tentative", basis="port number only"))
    return RmmFacts(
        matches=tuple(matches[:16]),
        banner=printable(banner),
        http_status=None if http is None else http[0],
        http_title=title(text),
    )
