"""Files and start-up: owner-only files whatever the umask; an empty, truncated or missing database is
refused with a message that says what to do, never silently re-created."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx

from tests.collector.processes import REPO, Server, cli


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "duecare.collector", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_every_collector_file_is_owner_only_even_with_a_loose_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        db = f"sqlite:///{tmp_path / 'collector.db'}"
        cli("init", db=db)
        cli("add-client", "acme", db=db)
        token = cli("add-site", "acme", "hq", db=db)[-1]
        server = Server(db, tmp_path / "log").start()
        try:
            from tests.collector.factories import AgentChain, finding

            chain = AgentChain()
            resp = httpx.post(f"{server.url}/v1/enroll", json={"token": token, "public_key": chain.key.public_b64})
            auth = {"authorization": f"Bearer {resp.json()['credential']}"}
            body = chain.next(findings=[finding("198.18.0.50")])
            assert httpx.post(f"{server.url}/v1/reports", json=body, headers=auth).status_code == 201
            files = sorted(p for p in tmp_path.iterdir() if p.name.startswith("collector.db"))
            assert {p.name for p in files} >= {"collector.db", "collector.db-wal", "collector.db-shm"}
            for p in files:
                assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
        finally:
            server.stop()
        export = tmp_path / "out" / "acme.json"
        assert _run("remove-client", "acme", "--export", str(export), "--db", db).returncode == 0
        assert stat.S_IMODE(export.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_empty_database_is_refused_not_reinitialised(tmp_path: Path) -> None:
    path = tmp_path / "collector.db"
    path.write_bytes(b"")
    out = _run("serve", "--db", f"sqlite:///{path}", "--listen", "127.0.0.1:1")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "is empty" in out.stderr and "backup" in out.stderr
    assert path.stat().st_size == 0  # untouched


def test_truncated_database_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "collector.db"
    db = f"sqlite:///{path}"
    cli("init", db=db)
    cli("add-client", "acme", db=db)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    out = _run("serve", "--db", db, "--listen", "127.0.0.1:1")
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert "corrupt" in out.stderr and "backup" in out.stderr


def test_missing_database_is_not_created_by_serve(tmp_path: Path) -> None:
    path = tmp_path / "collector.db"
    out = _run("serve", "--db", f"sqlite:///{path}", "--listen", "127.0.0.1:1")
    assert out.returncode == 1 and "collector init" in out.stderr
    assert not path.exists()
