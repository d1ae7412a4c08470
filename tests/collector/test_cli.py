"""Admin CLI and ``pull``: secrets on the last line, cursor kept only after the output is written."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from duecare.cli.collector import app, parse_ttl
from duecare.cli.pull import app as pull_app
from duecare.collector.db import migrate
from duecare.collector.db.models import EnrollmentToken
from duecare.collector.db.session import Database, make_engine
from tests.collector.factories import AgentChain, finding
from tests.collector.processes import REPO, Server

pytestmark = pytest.mark.slow  # real processes, a database server or a browser: not in `make test-fast`

runner = CliRunner()


def run(*args: str) -> list[str]:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()


def pull(*args: str) -> None:
    result = runner.invoke(pull_app, list(args))
    assert result.exit_code == 0, result.output


def test_admin_commands_print_secrets_last(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    assert run("init", "--db", db)[-1] == f"schema at revision {migrate.head_revision()}"
    client_id = run("add-client", "acme", "--db", db)[-1]
    assert client_id.startswith("cl_")
    lines = run("add-site", "acme", "hq", "--ttl", "2h", "--db", db)
    assert lines[0].startswith("site st_") and lines[-1].startswith("dce_")
    assert run("add-token", client_id, "hq", "--db", db)[-1].startswith("dce_")
    assert run("add-reader", "--all-clients", "--db", db)[-1].startswith("dcr_")
    assert run("add-reader", "--client", "acme", "--db", db)[-1].startswith("dcr_")
    assert run("set-webhook", "acme", "http://127.0.0.1:9/hook", "--db", db)[-1].startswith("dcw_")
    database = Database(make_engine(db))
    with database.read() as s:
        first = s.scalars(select(EnrollmentToken).order_by(EnrollmentToken.created_at)).first()
        assert first is not None
        assert abs((first.expires_at - datetime.now(UTC)) - timedelta(hours=2)) < timedelta(minutes=1)
    database.dispose()


def test_admin_errors_name_the_problem(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    result = runner.invoke(app, ["add-client", "acme", "--db", db])
    assert result.exit_code == 1 and "collector init" in result.output  # never a database made on the side
    run("init", "--db", db)
    run("add-client", "acme", "--db", db)
    result = runner.invoke(app, ["add-client", "acme", "--db", db])
    assert result.exit_code == 2 and "exists" in result.output
    result = runner.invoke(app, ["add-site", "nobody", "hq", "--db", db])
    assert result.exit_code == 2 and "no client 'nobody'" in result.output
    result = runner.invoke(app, ["add-site", "acme", "hq", "--ttl", "soon", "--db", db])
    assert result.exit_code == 2


def test_default_database_lives_in_the_state_dir(tmp_path: Path) -> None:
    state = tmp_path / "state"
    run("init", "--state-dir", str(state))
    assert (state / "collector.db").is_file()


def test_parse_ttl() -> None:
    assert parse_ttl("7d") == timedelta(days=7)
    assert parse_ttl("90") == timedelta(seconds=90)
    assert parse_ttl("12h") == timedelta(hours=12)


def test_python_dash_m_collector() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "duecare.collector", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "add-site" in out.stdout and "serve" in out.stdout


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Server, Path, AgentChain, dict[str, str]]]:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    run("init", "--db", db)
    run("add-client", "acme", "--db", db)
    token = run("add-site", "acme", "hq", "--db", db)[-1]
    key_file = tmp_path / "key"
    key_file.write_text(run("add-reader", "--all-clients", "--db", db)[-1] + "\n")
    server = Server(db, tmp_path / "server.log").start()
    chain = AgentChain()
    cred = httpx.post(f"{server.url}/v1/enroll", json={"token": token, "public_key": chain.key.public_b64}).json()
    try:
        yield server, key_file, chain, {"authorization": f"Bearer {cred['credential']}"}
    finally:
        server.stop()


def test_pull_keeps_the_cursor(live: tuple[Server, Path, AgentChain, dict[str, str]], tmp_path: Path) -> None:
    server, key_file, chain, auth = live
    for _ in range(2):
        httpx.post(f"{server.url}/v1/reports", json=chain.next(findings=[finding("198.18.0.50")]), headers=auth)
    cursor, out = tmp_path / "cursor", tmp_path / "out.json"
    base = ["--collector", server.url, "--key-file", str(key_file), "--cursor-file", str(cursor)]
    pull(*base, "-o", str(out))
    doc = json.loads(out.read_text())
    ids = [c["id"] for c in doc["changes"]]
    # Opaque (collector/ids.py): no number of the collector's feed shows, in ids or in the cursor.
    assert len(set(ids)) == len(ids) and all(len(i) == 32 and not i.isdigit() for i in ids)
    assert doc["cursor"] == cursor.read_text().strip() and len(doc["cursor"]) == 32
    assert doc["clients"] and {c["kind"] for c in doc["changes"]} >= {"report", "finding"}
    for written in (out, cursor):  # every client's findings may be in a pull: owner-only
        assert written.stat().st_mode & 0o777 == 0o600, written
    pull(*base, "-o", str(out))
    assert json.loads(out.read_text())["changes"] == []  # nothing new
    httpx.post(f"{server.url}/v1/reports", json=chain.next(findings=[]), headers=auth)  # telnet fixed
    pull(*base, "--format", "csv", "-o", str(tmp_path / "out.csv"))
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text())))
    assert [(r["kind"], r["transition"], r["tenant"]) for r in rows if r["kind"] == "finding"] == [
        ("finding", "resolved", "acme")
    ]
    assert "report" in {r["kind"] for r in rows}  # every kind of change has its row
    cursor.write_text("0\n")
    pull(*base, "--format", "ocsf", "-o", str(tmp_path / "out.ocsf"))
    events = json.loads((tmp_path / "out.ocsf").read_text())
    assert [e["activity_id"] for e in events] == [1, 2, 3]  # new, open, resolved


def test_cursor_not_moved_when_the_output_fails(
    live: tuple[Server, Path, AgentChain, dict[str, str]], tmp_path: Path
) -> None:
    server, key_file, chain, auth = live
    httpx.post(f"{server.url}/v1/reports", json=chain.next(findings=[finding("198.18.0.50")]), headers=auth)
    cursor = tmp_path / "cursor"
    cursor.write_text("0\n")
    blocked = tmp_path / "is-a-directory"
    blocked.mkdir()
    result = runner.invoke(
        pull_app,
        [
            "--collector",
            server.url,
            "--key-file",
            str(key_file),
            "--cursor-file",
            str(cursor),
            "-o",
            str(blocked),
        ],
    )
    assert result.exit_code != 0
    assert cursor.read_text() == "0\n"


def test_pull_with_a_bad_key_says_so(live: tuple[Server, Path, AgentChain, dict[str, str]], tmp_path: Path) -> None:
    server, _, _, _ = live
    bad = tmp_path / "bad"
    bad.write_text("dcr_nope\n")
    result = runner.invoke(pull_app, ["--collector", server.url, "--key-file", str(bad)])
    assert result.exit_code == 1 and "401" in result.output


def test_numeric_cursor_of_an_older_pull_is_refused_by_name_then_converted(
    live: tuple[Server, Path, AgentChain, dict[str, str]], tmp_path: Path
) -> None:
    server, key_file, chain, auth = live
    for _ in range(2):
        httpx.post(f"{server.url}/v1/reports", json=chain.next(findings=[finding("198.18.0.50")]), headers=auth)
    cursor, out = tmp_path / "cursor", tmp_path / "out.json"
    base = ["--collector", server.url, "--key-file", str(key_file), "--cursor-file", str(cursor), "-o", str(out)]
    pull(*base)
    everything = [c["id"] for c in json.loads(out.read_text())["changes"]]
    cursor.write_text("3\n")  # what a pull of a collector before 0006 kept
    result = runner.invoke(pull_app, base)
    assert result.exit_code == 1 and "422" in result.output and "numeric cursor" in result.output, result.output
    assert cursor.read_text() == "3\n"
    db = f"sqlite:///{tmp_path / 'c.db'}"
    assert runner.invoke(app, ["convert-cursor", "3", "--db", db]).exit_code == 2  # whose key: say it
    converted = run("convert-cursor", "3", "--all-clients", "--db", db)[-1]
    cursor.write_text(converted + "\n")
    pull(*base)
    assert [c["id"] for c in json.loads(out.read_text())["changes"]] == everything[3:]
