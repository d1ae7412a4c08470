"""Elasticsearch root-API parsing on published response bodies, and fuzzing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duecare.probes.elasticsearch.parse import count_indices, parse_root
from duecare.probes.errors import ProtocolError

FIX = Path(__file__).parent / "fixtures"
CHALLENGE = 'Basic realm="security", charset="UTF-8"'


def body(name: str) -> bytes:
    return (FIX / name).read_bytes()


def test_docs_root_8() -> None:
    info = parse_root(200, {"x-elastic-product": "Elasticsearch"}, body("elastic_docs_root_8.12.1.json"))
    assert (info.auth_enforced, info.product, info.version) == (False, "Elasticsearch", "8.12.1")
    assert (info.cluster_name, info.node_name) == ("my_test_cluster", "instance-0000000000")
    assert info.build_flavor == "default"


def test_root_7_without_product_header() -> None:
    info = parse_root(200, {}, body("es_7.2.0_root.json"))
    assert (info.product, info.version) == ("Elasticsearch", "7.2.0")


def test_opensearch_is_named() -> None:
    # OpenSearch keeps the root API but changes the tagline and adds version.distribution.
    doc = {"name": "n1", "cluster_name": "c", "version": {"distribution": "opensearch", "number": "2.11.0"}}
    info = parse_root(200, {}, json.dumps(doc).encode())
    assert (info.product, info.version) == ("OpenSearch", "2.11.0")


def test_security_enabled_401() -> None:
    info = parse_root(401, {"www-authenticate": CHALLENGE}, body("es8_401_missing_credentials.json"))
    assert info.auth_enforced is True and info.challenge == CHALLENGE
    # Even with the header stripped by a proxy, the body says it is Elasticsearch's security layer.
    assert parse_root(401, {}, body("es8_401_missing_credentials.json")).auth_enforced is True


@pytest.mark.parametrize(
    ("status", "headers", "payload"),
    [
        (401, {"www-authenticate": 'Basic realm="Router"'}, b"<html>Unauthorized</html>"),
        (200, {}, b"<html>It works!</html>"),
        (200, {}, b'{"status": "ok"}'),
        (200, {}, b'{"version": {"number": "1"}}'),
        (404, {}, b"{}"),
    ],
)
def test_not_elasticsearch(status: int, headers: dict[str, str], payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_root(status, headers, payload)


def test_count_indices() -> None:
    assert count_indices(body("cat_indices_h_index.json")) == 2
    assert count_indices(b"[]") == 0
    with pytest.raises(ProtocolError):
        count_indices(b'{"index": "x"}')


@given(st.integers(100, 599), st.binary(max_size=512))
def test_fuzz_root(status: int, payload: bytes) -> None:
    try:
        parse_root(status, {}, payload)
    except ProtocolError:
        pass


JSONISH = st.recursive(
    st.none() | st.integers() | st.text(max_size=8), lambda x: st.lists(x) | st.dictionaries(st.text(max_size=8), x)
)


@given(JSONISH)
def test_fuzz_json_shapes(doc: object) -> None:
    payload = json.dumps(doc).encode()
    for status in (200, 401):
        try:
            parse_root(status, {}, payload)
        except ProtocolError:
            pass
    try:
        count_indices(payload)
    except ProtocolError:
        pass


def test_deeply_nested_json_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        parse_root(200, {}, b"[" * 100_000)
