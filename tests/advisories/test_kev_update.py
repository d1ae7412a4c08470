"""`update-kev`: schema validation, refusal of older feeds, atomic install, file and URL sources.

URL tests use a throwaway HTTP server bound to 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from duecare.advisories.catalog import PACKAGED_DATA_DIR
from duecare.advisories.kev import KEV_FILE, load_kev, state_kev_path
from duecare.advisories.kev_update import KevUpdateError, KevUpdateResult, schema_errors, update_kev
from duecare.agent.feeds import FeedError, read_source
from duecare.cli.advisories import app

KEV_DIR = PACKAGED_DATA_DIR / "kev"


def install(state: Path, source: str) -> KevUpdateResult:
    """What `update-kev --from SOURCE` does: read (file or URL), validate, install."""
    return update_kev(KEV_DIR, state, read_source(source), source)


SHIPPED = json.loads((KEV_DIR / KEV_FILE).read_bytes())


def newer_feed(**changes: object) -> bytes:
    """The shipped catalog re-released later with one added entry: a plausible next feed."""
    doc = json.loads(json.dumps(SHIPPED))
    doc["catalogVersion"] = "2026.11.27"
    doc["dateReleased"] = "2026-11-27T16:00:00.000Z"
    entry = {
        "cveID": "CVE-2026-99999",
        "vendorProject": "Acme",
        "product": "Router",
        "vulnerabilityName": "Acme Router Command Injection",
        "dateAdded": "2026-11-27",
        "shortDescription": "Command injection.",
        "requiredAction": "Apply mitigations per vendor instructions.",
        "dueDate": "2026-12-18",
        "knownRansomwareCampaignUse": "Unknown",
        "notes": "",
        "cwes": ["CWE-78"],
    }
    doc["vulnerabilities"].insert(0, entry)
    doc["count"] = len(doc["vulnerabilities"])
    doc.update(changes)
    return json.dumps(doc).encode()


def test_feed_built_to_the_current_schema_with_forensic_triage_installs(tmp_path: Path) -> None:
    """The published schema (d98075f2) adds the optional `forensicTriage` string beside `cwes`."""
    schema = json.loads((KEV_DIR / "known_exploited_vulnerabilities_schema.json").read_text())
    vuln = schema["$defs"]["vulnerability"]
    assert vuln["properties"]["forensicTriage"]["type"] == "string" and "forensicTriage" not in vuln["required"]
    doc = json.loads(newer_feed())
    doc["vulnerabilities"][0]["forensicTriage"] = "Yes"
    doc["vulnerabilities"][1]["forensicTriage"] = "No"
    feed = tmp_path / "feed.json"
    feed.write_bytes(json.dumps(doc).encode())
    assert schema_errors(doc, schema) == []
    install(tmp_path / "state", str(feed))
    kev = load_kev(KEV_DIR, tmp_path / "state")
    assert kev is not None
    assert kev.by_cve["CVE-2026-99999"].forensic_triage == "Yes"
    assert kev.by_cve[doc["vulnerabilities"][1]["cveID"]].forensic_triage == "No"
    assert kev.by_cve["CVE-2026-99999"].cwes == ("CWE-78",)


def test_shipped_snapshot_validates_against_cisa_schema() -> None:
    schema = json.loads((KEV_DIR / "known_exploited_vulnerabilities_schema.json").read_text())
    assert schema_errors(SHIPPED, schema) == []


def test_update_from_file_installs_and_is_then_used(tmp_path: Path) -> None:
    feed = tmp_path / "feed.json"
    feed.write_bytes(newer_feed())
    state = tmp_path / "state"
    result = install(state, str(feed))
    assert result.changed and result.previous_version == "2026.08.07"
    assert result.catalog_version == "2026.11.27" and result.count == 1663
    assert state_kev_path(state).read_bytes() == feed.read_bytes()  # stored as published
    kev = load_kev(KEV_DIR, state)
    assert kev is not None and kev.by_cve["CVE-2026-99999"].due_date.isoformat() == "2026-12-18"
    assert not [p for p in state_kev_path(state).parent.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["vulnerabilities"][0].pop("dueDate"), "dueDate"),
        (lambda d: d["vulnerabilities"][0].update(cveID="cve-2026-1"), "does not match"),
        (lambda d: d["vulnerabilities"][0].update(dateAdded="27/11/2026"), "is not a 'date'"),
        (lambda d: d.pop("catalogVersion"), "catalogVersion"),
        (lambda d: d.update(count="many"), "is not of type 'integer'"),
    ],
)
def test_feed_failing_the_schema_is_refused_and_nothing_written(tmp_path: Path, mutate: object, message: str) -> None:
    doc = json.loads(newer_feed())
    mutate(doc)  # type: ignore[operator]
    feed = tmp_path / "feed.json"
    feed.write_text(json.dumps(doc))
    with pytest.raises(KevUpdateError, match=message):
        install(tmp_path / "state", str(feed))
    assert not (tmp_path / "state").exists()


def test_not_json_is_refused(tmp_path: Path) -> None:
    feed = tmp_path / "feed.json"
    feed.write_bytes(b"<html>maintenance</html>")
    with pytest.raises(KevUpdateError, match="not JSON"):
        install(tmp_path / "state", str(feed))


def test_older_feed_never_replaces_a_newer_one(tmp_path: Path) -> None:
    state = tmp_path / "state"
    feed = tmp_path / "feed.json"
    feed.write_bytes(newer_feed())
    install(state, str(feed))
    before = state_kev_path(state).read_bytes()
    old = tmp_path / "old.json"
    old.write_bytes((KEV_DIR / KEV_FILE).read_bytes())
    with pytest.raises(KevUpdateError, match="older"):
        install(state, str(old))
    assert state_kev_path(state).read_bytes() == before


def test_a_crash_mid_write_leaves_the_previous_copy_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state"
    feed = tmp_path / "feed.json"
    feed.write_bytes(newer_feed())
    install(state, str(feed))
    before = state_kev_path(state).read_bytes()
    feed.write_bytes(newer_feed(catalogVersion="2026.11.28", dateReleased="2026-11-28T16:00:00.000Z"))

    def boom(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        install(state, str(feed))
    assert state_kev_path(state).read_bytes() == before
    assert [p.name for p in state_kev_path(state).parent.iterdir()] == [KEV_FILE]


class _FeedHandler(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        if self.path != "/kev.json":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def feed_server() -> Iterator[str]:
    _FeedHandler.body = newer_feed()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FeedHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_update_from_url(tmp_path: Path, feed_server: str) -> None:
    result = install(tmp_path, f"{feed_server}/kev.json")
    assert result.catalog_version == "2026.11.27"
    assert state_kev_path(tmp_path).is_file()


def test_http_error_is_reported(tmp_path: Path, feed_server: str) -> None:
    with pytest.raises(FeedError, match="HTTP 404"):
        install(tmp_path, f"{feed_server}/missing.json")


def test_cli_update_kev_from_url_and_refusal(tmp_path: Path, feed_server: str) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["update-kev", "--from", f"{feed_server}/kev.json", "--state-dir", str(tmp_path)])
    assert ok.exit_code == 0, ok.output
    assert "2026.11.27" in ok.output
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    refused = runner.invoke(app, ["update-kev", "--from", str(bad), "--state-dir", str(tmp_path)])
    assert refused.exit_code == 1
    assert "catalogVersion" in refused.output
