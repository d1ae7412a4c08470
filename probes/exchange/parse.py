"""Pure parsing of Exchange web answers: headers, OWA logon page, export-tool manifest, NTLM challenge.

Sources and their trust order are in shared/reference/detection-methods.md §1.2. Helpers for one value
raise ProtocolError on malformed input; ``parse_response`` never raises: a hostile value becomes an
anomaly and the other sources still count.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal
from urllib.parse import urlsplit

from duecare.probes.errors import ProtocolError
from duecare.probes.exchange.facts import (
    BUILD_PATTERN,
    BuildObservation,
    BuildPrecision,
    BuildSource,
    Endpoint,
    EndpointResponse,
    ExchangeFacts,
)
from duecare.probes.ntlm import NtlmInfo, find_challenge, parse_challenge

Headers = Sequence[tuple[str, str]]

#: A response body is read up to this many bytes; the logon page head and the ~16 KB manifest fit.
BODY_CAP = 64 * 1024
_VALUE_CAP = 200
_NTLM_B64_CAP = 8192

_BUILD_RE = re.compile(BUILD_PATTERN)
# Exchange 2013+ serves OWA assets from /owa/auth/<major.minor.build>/; 2010 from /owa/<4-part>/ (§1.3).
_OWA_PATH_RE = re.compile(rb"/owa/(?:auth/)?(\d{1,3}\.\d{1,3}\.\d{1,5}(?:\.\d{1,5})?)/", re.IGNORECASE)
_TITLE_RE = re.compile(rb"<title>([^<]{0,400})</title>", re.IGNORECASE)
# ClickOnce manifest: <assemblyIdentity name="microsoft.exchange.ediscovery.exporttool.application"
# version="15.1.2375.7" …/> (§1.3). Regex over a capped body, not an XML parser: nothing in a
# hostile document can expand.
_IDENTITY_RE = re.compile(rb"<(?:[\w-]{1,32}:)?assemblyIdentity\b([^>]{0,4096})>", re.IGNORECASE)
_ATTR_RE = re.compile(rb"([\w:.-]{1,64})\s*=\s*(\"[^\"]{0,256}\"|'[^']{0,256}')")
_EXPORT_TOOL_NAMES = (
    b"microsoft.exchange.ediscovery.exporttool.application",
    b"microsoft.exchange.ediscovery.exporttool",
)


def header_values(headers: Headers, name: str) -> list[str]:
    """All values of a header, matched case-insensitively (HTTP/2 sends lower-case names, RFC 9113 8.2.2)."""
    want = name.lower()
    return [v.strip() for k, v in headers if k.strip().lower() == want]


def _short(text: str, limit: int = _VALUE_CAP) -> str:
    """A header value fit for a report: printable, capped."""
    return "".join(c if c.isprintable() else "?" for c in text.strip()[:limit])


def parse_build(text: str) -> str:
    """A dotted build (3 or 4 parts) as a canonical string; anything else is a ProtocolError."""
    candidate = text.strip()
    if len(candidate) > 32 or not _BUILD_RE.fullmatch(candidate):
        raise ProtocolError(f"not an Exchange build number: {_short(candidate)[:40]!r}")
    return ".".join(str(int(p)) for p in candidate.split("."))


def _observation(version: str, source: BuildSource, path: str) -> BuildObservation:
    precision = BuildPrecision.FULL if version.count(".") == 3 else BuildPrecision.CU
    return BuildObservation(version=version, source=source, precision=precision, path=path[:256])


def version_from_manifest(body: bytes) -> str | None:
    """The export tool's version from its ClickOnce manifest, or None if this is not that manifest."""
    identities: dict[bytes, bytes] = {}
    for tag in _IDENTITY_RE.finditer(body[:BODY_CAP]):
        attrs = {k.lower(): v[1:-1] for k, v in _ATTR_RE.findall(tag.group(1))}
        name = attrs.get(b"name", b"").lower()
        if name in _EXPORT_TOOL_NAMES and b"version" in attrs:
            identities.setdefault(name, attrs[b"version"])
    for name in _EXPORT_TOOL_NAMES:
        if name in identities:
            return parse_build(identities[name].decode("ascii", "replace"))
    return None


def version_from_logon_page(body: bytes) -> str | None:
    """The version folder of OWA's static assets (CU level on 2013+; see §1.7 G2), or None."""
    found = _OWA_PATH_RE.search(body[:BODY_CAP])
    return None if found is None else parse_build(found.group(1).decode("ascii"))


def title_of(body: bytes) -> str | None:
    found = _TITLE_RE.search(body[:BODY_CAP])
    if found is None:
        return None
    return _short(found.group(1).decode("utf-8", "replace")) or None


def ntlm_from_headers(headers: Headers) -> NtlmInfo | None:
    """NTLM CHALLENGE carried in ``WWW-Authenticate: NTLM <base64>`` (RFC 4559 section 4), or None."""
    for value in header_values(headers, "www-authenticate"):
        # Several challenges may share one field, comma-separated (RFC 9110 11.6.1).
        for challenge in value.split(","):
            scheme, _, token = challenge.strip().partition(" ")
            token = token.strip()
            if scheme.lower() != "ntlm" or not token:
                continue
            if len(token) > _NTLM_B64_CAP:
                raise ProtocolError(f"NTLM challenge token longer than {_NTLM_B64_CAP} characters")
            try:
                blob = base64.b64decode(token, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ProtocolError("NTLM challenge token is not base64") from exc
            msg = find_challenge(blob)
            if msg is None:
                raise ProtocolError("WWW-Authenticate NTLM token holds no CHALLENGE message")
            return parse_challenge(msg)
    return None


LocationKind = Literal["owa-logon", "same-host", "other-host", "unparsable"]


def classify_location(location: str, host: str) -> tuple[LocationKind, str | None]:
    """Where a redirect points: OWA's own logon form, elsewhere on this host, or another host (G7)."""
    try:
        parts = urlsplit(location.strip()[:2048])
        target_host = parts.hostname
    except ValueError:
        return "unparsable", None
    if target_host and target_host.lower() != host.lower():
        return "other-host", target_host.lower()[:255]
    if parts.path.lower().startswith("/owa/auth/logon.aspx"):
        return "owa-logon", None
    return "same-host", None


def is_https_upgrade(location: str, host: str) -> bool:
    """A plain-HTTP answer that only sends the client to HTTPS on the same host (IIS "Require SSL"
    redirect): the service to judge is the HTTPS one, which is probed on its own port."""
    try:
        parts = urlsplit(location.strip()[:2048])
        target_host = parts.hostname
    except ValueError:
        return False
    return parts.scheme.lower() == "https" and (target_host is None or target_host.lower() == host.lower())


def decode_body(raw: bytes, content_encoding: str | None, cap: int = BODY_CAP) -> bytes:
    """Undo gzip/deflate with an output cap (a 64 KiB bomb must not become 64 MB); others → b"".

    We ask for ``Accept-Encoding: identity``; this covers servers that compress anyway.
    """
    coding = (content_encoding or "identity").strip().lower()
    if coding in ("", "identity"):
        return raw[:cap]
    if coding not in ("gzip", "x-gzip", "deflate"):
        return b""
    wbits = 16 + zlib.MAX_WBITS if coding != "deflate" else zlib.MAX_WBITS
    try:
        return zlib.decompressobj(wbits).decompress(raw, cap)
    except zlib.error:
        if coding == "deflate":  # many servers send raw deflate without the zlib wrapper
            try:
                return zlib.decompressobj(-zlib.MAX_WBITS).decompress(raw, cap)
            except zlib.error:
                return b""
        return b""


@dataclass(frozen=True, slots=True)
class ParsedResponse:
    """Everything one answer contributed; combined into ExchangeFacts by ``combine``."""

    response: EndpointResponse
    builds: tuple[BuildObservation, ...] = ()
    fe_servers: tuple[str, ...] = ()
    be_targets: tuple[str, ...] = ()
    server: str | None = None
    title: str | None = None
    external_login_host: str | None = None
    ntlm: NtlmInfo | None = None
    anomalies: tuple[str, ...] = field(default=())


def parse_response(
    endpoint: Endpoint, path: str, status: int, headers: Headers, body: bytes, *, host: str
) -> ParsedResponse:
    """One HTTP answer → what it says about Exchange. Never raises: bad values become anomalies."""
    anomalies: list[str] = []
    builds: list[BuildObservation] = []
    marker = False

    for raw in header_values(headers, "x-owa-version")[:4]:
        marker = True
        try:
            builds.append(_observation(parse_build(raw), BuildSource.OWA_VERSION_HEADER, path))
        except ProtocolError as exc:
            anomalies.append(f"{path}: X-OWA-Version: {exc}")
    for what, source, fn in (
        ("export-tool manifest", BuildSource.ECP_EXPORT_TOOL, version_from_manifest),
        ("OWA asset path", BuildSource.OWA_LOGON_PATH, version_from_logon_page),
    ):
        try:
            value = fn(body)
        except ProtocolError as exc:
            anomalies.append(f"{path}: {what}: {exc}")
            marker = True
            continue
        if value is not None:
            marker = True
            builds.append(_observation(value, source, path))

    fe = tuple(_short(v) for v in header_values(headers, "x-feserver")[:4] if v)
    be = tuple(_short(v) for v in header_values(headers, "x-calculatedbetarget")[:4] if v)
    marker = marker or bool(fe or be)

    location = next(iter(header_values(headers, "location")), None)
    external = None
    if location is not None and 300 <= status < 400:
        kind, other = classify_location(location, host)
        marker = marker or kind == "owa-logon"
        if kind == "other-host" and endpoint is Endpoint.OWA:
            external = other

    ntlm = None
    try:
        ntlm = ntlm_from_headers(headers)
    except ProtocolError as exc:
        anomalies.append(f"{path}: NTLM: {exc}")

    server = next(iter(header_values(headers, "server")), None)
    return ParsedResponse(
        response=EndpointResponse(
            endpoint=endpoint,
            path=path[:256],
            status=status if 100 <= status <= 999 else None,
            exchange_marker=marker,
            location=None if location is None else _short(location, 512),
        ),
        builds=tuple(builds),
        fe_servers=fe,
        be_targets=be,
        server=None if server is None else _short(server),
        # Only a page that was served has a meaningful title (a 302 body says "302 Found").
        title=title_of(body) if status == 200 else None,
        external_login_host=external,
        ntlm=ntlm,
        anomalies=tuple(a[:300] for a in anomalies),
    )


def _unique(values: Sequence[str], limit: int) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))[:limit]


def best_build(builds: Sequence[BuildObservation]) -> BuildObservation | None:
    """Source rank first (manifest > header > path, §1.2): the header can lag the real build (G3)."""
    return min(builds, key=lambda b: (b.source.rank, b.parts), default=None)


def combine(
    parsed: Sequence[ParsedResponse],
    *,
    observed_on: date,
    scheme: Literal["http", "https"],
    requests_sent: int,
    incomplete: bool = False,
    failed: Sequence[EndpointResponse] = (),
    redirects_to_https: bool = False,
) -> ExchangeFacts:
    builds = [b for p in parsed for b in p.builds]
    # One entry per (version, source): the same header on four answers is one observation.
    distinct = list({(b.version, b.source): b for b in reversed(builds)}.values())[::-1]
    owa_titles = [p.title for p in parsed if p.title and p.response.endpoint in (Endpoint.OWA, Endpoint.OWA_LOGON)]
    anomalies = [a for p in parsed for a in p.anomalies]
    fe = _unique([v for p in parsed for v in p.fe_servers], 8)
    be = _unique([v for p in parsed for v in p.be_targets], 8)
    return ExchangeFacts(
        observed_on=observed_on,
        scheme=scheme,
        exchange_detected=any(p.response.exchange_marker for p in parsed),
        build=best_build(distinct),
        builds_seen=tuple(distinct[:16]),
        responses=(tuple(p.response for p in parsed) + tuple(failed))[:8],
        fe_servers=fe,
        be_targets=be,
        server_header=next((p.server for p in parsed if p.server), None),
        owa_title=next(iter(owa_titles), None),
        external_login_host=next((p.external_login_host for p in parsed if p.external_login_host), None),
        ntlm=next((p.ntlm for p in parsed if p.ntlm is not None), None),
        anomalies=tuple(anomalies[:16]),
        redirects_to_https=redirects_to_https,
        requests_sent=min(requests_sent, 16),
        incomplete=incomplete,
    )
