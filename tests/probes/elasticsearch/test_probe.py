"""Elasticsearch probe through httpx.MockTransport with published response bodies."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from ipaddress import ip_address
from pathlib import Path

import httpx

from duecare.probes.base import Target
from duecare.probes.context import ProbeContext
from duecare.probes.elasticsearch.probe import ElasticsearchProbe
from duecare.probes.runner import ProbeOutcome, run_probe
from duecare.wire import ProbeStatus, Proto
from tests.probes.fake_tcp import FAST, outcome, silent

FIX = Path(__file__).parent / "fixtures"
Handler = Callable[[httpx.Request], httpx.Response]


def body(name: str) -> bytes:
    return (FIX / name).read_bytes()


class MockHttpContext(ProbeContext):
    """A ProbeContext whose shared HTTP client answers from a handler instead of the network."""

    def __init__(self, handler: Handler) -> None:
        super().__init__(timeouts=FAST)
        self.seen: list[str] = []

        def record(request: httpx.Request) -> httpx.Response:
            self.seen.append(str(request.url))
            return handler(request)

        self._mock = httpx.AsyncClient(transport=httpx.MockTransport(record), follow_redirects=False)

    @property
    def http(self) -> httpx.AsyncClient:
        return self._mock


def run(handler: Handler) -> tuple[ProbeOutcome, list[str]]:
    async def go() -> tuple[ProbeOutcome, list[str]]:
        ctx = MockHttpContext(handler)
        try:
            out = await run_probe(ElasticsearchProbe(), Target(ip_address("192.0.2.9"), 9200, Proto.TCP), ctx)
        finally:
            await ctx.http.aclose()
        return out, ctx.seen

    return asyncio.run(go())


def open_cluster(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/":
        return httpx.Response(200, content=body("elastic_docs_root_8.12.1.json"))
    if request.url.path == "/_cat/indices":
        assert request.url.params["h"] == "index" and request.url.params["format"] == "json"
        return httpx.Response(200, content=body("cat_indices_h_index.json"))
    return httpx.Response(404)


def test_open_cluster_is_read_and_indices_counted() -> None:
    out, seen = run(open_cluster)
    assert out.attempt.status is ProbeStatus.COMPLETED, out.attempt.error
    facts = out.attempt.facts
    assert facts is not None
    assert (facts["scheme"], facts["auth_enforced"]) == ("http", False)
    assert (facts["version"], facts["index_count"]) == ("8.12.1", 2)
    assert seen == ["http://192.0.2.9:9200/", "http://192.0.2.9:9200/_cat/indices?format=json&h=index"]
    assert out.observation is not None
    assert "my-index" not in out.observation.evidence[0].excerpt  # names are counted, never kept


def test_tls_only_node_is_retried_over_https_and_refuses() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "http":
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
        return httpx.Response(
            401,
            headers={"WWW-Authenticate": 'Basic realm="security", charset="UTF-8"'},
            content=body("es8_401_missing_credentials.json"),
        )

    out, seen = run(handler)
    assert out.attempt.status is ProbeStatus.COMPLETED, out.attempt.error
    assert out.attempt.facts is not None
    assert (out.attempt.facts["scheme"], out.attempt.facts["auth_enforced"]) == ("https", True)
    assert out.attempt.facts["index_count"] is None
    assert seen == ["http://192.0.2.9:9200/", "https://192.0.2.9:9200/"]  # nothing after a 401


def test_refused_index_listing_leaves_the_count_unknown() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/":
            return httpx.Response(200, content=body("es_7.2.0_root.json"))
        return httpx.Response(403, content=b'{"error":{"type":"security_exception"},"status":403}')

    out, _ = run(handler)
    assert out.attempt.status is ProbeStatus.COMPLETED, out.attempt.error
    assert out.attempt.facts is not None and out.attempt.facts["index_count"] is None


def test_other_web_server_is_a_protocol_error() -> None:
    out, seen = run(lambda _r: httpx.Response(200, content=b"<html>It works!</html>"))
    assert out.attempt.status is ProbeStatus.PROTOCOL_ERROR
    assert seen == ["http://192.0.2.9:9200/"]  # an HTTP answer means no HTTPS retry


def test_oversized_body_is_refused() -> None:
    out, _ = run(lambda _r: httpx.Response(200, content=b"{" + b" " * 200_000))
    assert out.attempt.status is ProbeStatus.PROTOCOL_ERROR


def test_connection_refused_is_unreachable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    assert run(handler)[0].attempt.status is ProbeStatus.UNREACHABLE


def test_silent_socket_times_out() -> None:
    # A real loopback socket that accepts and never answers: httpx's read timeout, via the runner.
    assert outcome(ElasticsearchProbe(), silent()).attempt.status is ProbeStatus.TIMED_OUT
