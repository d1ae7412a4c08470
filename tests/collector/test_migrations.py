"""The shipped migrations build exactly the models' schema, both ways, on both databases."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from duecare.collector import persist
from duecare.collector.db import migrate
from duecare.collector.db.models import Base
from duecare.collector.db.session import make_engine
from duecare.collector.rows import ip_key
from tests.collector.databases import postgres_database
from tests.collector.processes import REPO

pytestmark = pytest.mark.slow  # real processes, a database server or a browser: not in `make test-fast`


def test_upgrade_matches_models_and_downgrade_removes_all(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert diff == []
        migrate.downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(engine)
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_replicas_starting_together_migrate_once(db_url: str) -> None:
    """Three ``collector init`` processes at once, as replicas starting together would."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "duecare.collector", "init", "--db", db_url],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    engine = make_engine(db_url)
    try:
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()


def test_sqlite_upgrade_holds_the_write_lock_between_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Alembic commits after each step on SQLite; a replica waiting for the lock must not get in between."""
    path = tmp_path / "collector.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    tries: list[bool] = []
    begin = MigrationContext.begin_transaction

    def try_to_write_then_begin(self: MigrationContext, _per_migration: bool = False) -> Any:
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            tries.append(True)
            other.execute("ROLLBACK")
        except sqlite3.OperationalError:
            tries.append(False)  # locked: a replica would wait for the whole schema
        finally:
            other.close()
        return begin(self, _per_migration)

    monkeypatch.setattr(MigrationContext, "begin_transaction", try_to_write_then_begin)
    try:
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()
    assert len(tries) > 1  # the run's own transaction and one per step
    assert not any(tries), tries


_AT = "2026-11-01 02:00:00+00:00"


def _populate_0005(engine: Engine) -> None:
    """Two clients' agents whose reports interleave in the old global sequence, and a tombstone."""
    with engine.begin() as c:
        for n in ("a", "b"):
            c.execute(
                text("INSERT INTO clients (id, name, created_at) VALUES (:i, :n, :t)"),
                {"i": f"cl_{n}", "n": n, "t": _AT},
            )
            c.execute(
                text("INSERT INTO sites (id, client_id, name, created_at) VALUES (:s, :c, 'hq', :t)"),
                {"s": f"st_{n}", "c": f"cl_{n}", "t": _AT},
            )
            c.execute(
                text(
                    "INSERT INTO agents (id, client_id, site_id, public_key, credential_hash, hostname, enrolled_at, "
                    "report_count, vantage) VALUES (:a, :c, :s, 'k', :h, 'box', :t, 3, 'internal')"
                ),
                {"a": f"ag_{n}", "c": f"cl_{n}", "s": f"st_{n}", "h": n * 64, "t": _AT},
            )
        for seq in range(1, 7):
            n = "a" if seq % 2 else "b"
            c.execute(
                text(
                    "INSERT INTO reports (id, client_id, site_id, agent_id, report_hash, raw_report, signature, "
                    "sequence, received_at, started_at, finished_at, chain_gap, finding_count) VALUES "
                    "(:i, :c, :s, :a, :h, '{}', 'sig', :q, :t, :t, :t, false, 0)"
                ),
                {"i": f"00000000-0000-0000-0000-00000000000{seq}", "c": f"cl_{n}", "s": f"st_{n}", "a": f"ag_{n}",
                 "h": str(seq) * 64, "q": seq * 10, "t": _AT},
            )  # fmt: skip
        c.execute(
            text(
                "INSERT INTO dropped_reports (client_id, site_id, agent_id, report_id, report_hash, dropped_at, "
                "recorded_in_report, recorded_at) VALUES ('cl_a', 'st_a', 'ag_a', :r, :h, :t, :r, :t)"
            ),
            {"r": "00000000-0000-0000-0000-0000000000ff", "h": "f" * 64, "t": _AT},
        )


def test_0006_on_a_database_populated_at_0005(db_url: str) -> None:
    """Sequences become per agent, report ids unique per client, old tombstones stay (unsigned)."""
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine, "0005")
        _populate_0005(engine)
        migrate.upgrade(engine, "0006")
        assert migrate.current_revision(engine) == "0006"
        with engine.begin() as c:
            seqs = c.execute(text("SELECT agent_id, sequence FROM reports ORDER BY id")).all()
            assert [tuple(r) for r in seqs] == [
                ("ag_a", 1),
                ("ag_b", 1),
                ("ag_a", 2),
                ("ag_b", 2),
                ("ag_a", 3),
                ("ag_b", 3),
            ]
            assert c.execute(text("SELECT signature FROM dropped_reports")).scalar_one() is None
            # Every existing client has its id key (collector/ids.py), each its own.
            keys = dict(c.execute(text("SELECT scope, secret FROM id_keys")).all())
            assert set(keys) == {"cl_a", "cl_b"} and keys["cl_a"] != keys["cl_b"]
            # The same report id under the other client is now a separate row.
            c.execute(
                text(
                    "INSERT INTO reports (id, client_id, site_id, agent_id, report_hash, raw_report, signature, "
                    "sequence, received_at, started_at, finished_at, chain_gap, finding_count) "
                    "SELECT id, 'cl_b', 'st_b', 'ag_b', report_hash, raw_report, signature, 4, received_at, "
                    "started_at, finished_at, chain_gap, finding_count FROM reports "
                    "WHERE client_id = 'cl_a' AND sequence = 1"
                )
            )
        with pytest.raises(Exception, match="more than one client"):
            migrate.downgrade(engine, "0005")
        with engine.begin() as c:
            c.execute(text("DELETE FROM reports WHERE client_id = 'cl_b' AND sequence = 4"))
        migrate.downgrade(engine, "0005")
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()


_ADDRESSES = ("10.0.5.7", "192.168.1.200", "2001:db8::1", "fe80::a:b")


def test_0008_on_a_database_populated_at_0007(db_url: str) -> None:
    """Existing findings and assets get the address key the code computes, and the site reads use it."""
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine, "0007")
        _populate_0005(engine)  # clients, sites and agents (the columns it writes are the same at 0007)
        with engine.begin() as c:
            for n, ip in enumerate(_ADDRESSES):
                c.execute(
                    text(
                        "INSERT INTO findings (client_id, site_id, ident, ip, exposure, port, proto, status, severity, "
                        "title, kev, first_seen_at, last_seen_at, status_changed_at, last_agent_id, last_report_id, "
                        "changed_by_report_id, data, internet_exposed) VALUES ('cl_a', 'st_a', :i, :ip, 'rdp', 3389, "
                        "'tcp', 'new', 'high', 't', false, :t, :t, :t, 'ag_a', 'r', 'r', '{}', :x)"
                    ),
                    {"i": f"{ip}|rdp|3389|tcp", "ip": ip, "t": _AT, "x": True if n == 0 else None},
                )
                c.execute(
                    text(
                        "INSERT INTO assets (client_id, site_id, ip, status, first_seen_at, last_seen_at, "
                        "status_changed_at, last_agent_id, last_report_id, changed_by_report_id) VALUES "
                        "('cl_a', 'st_a', :ip, 'new', :t, :t, :t, 'ag_a', 'r', 'r')"
                    ),
                    {"ip": ip, "t": _AT},
                )
        migrate.upgrade(engine, "0008")
        with engine.begin() as c:
            for table in ("findings", "assets"):
                keys = {ip: bytes(k) for ip, k in c.execute(text(f"SELECT ip, ip_key FROM {table}"))}
                assert keys == {ip: ip_key(ip) for ip in _ADDRESSES}
        indexes = {ix["name"] for ix in inspect(engine).get_indexes("findings")}
        assert {"ix_findings_site_ip_key", "ix_findings_site_exposed"} <= indexes
        assert "ix_assets_site_ip_key" in {ix["name"] for ix in inspect(engine).get_indexes("assets")}
        with engine.begin() as c, pytest.raises(IntegrityError):
            c.execute(
                text(
                    "INSERT INTO assets (client_id, site_id, ip, status, first_seen_at, last_seen_at, "
                    "status_changed_at, last_agent_id, last_report_id, changed_by_report_id) VALUES "
                    "('cl_a', 'st_a', '10.9.9.9', 'new', :t, :t, :t, 'ag_a', 'r', 'r')"
                ),
                {"t": _AT},
            )  # a row without its key is refused
        migrate.downgrade(engine, "0007")
        assert "ip_key" not in {col["name"] for col in inspect(engine).get_columns("findings")}
        with engine.begin() as c:
            assert c.execute(text("SELECT count(*) FROM findings")).scalar_one() == len(_ADDRESSES)
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()


def test_0009_takes_the_last_report_out_of_every_index(db_url: str) -> None:
    """The steady night's updates of ``last_report_id`` touch no index (PostgreSQL: heap-only, pages
    kept 30 % free); downgrading brings the 0008 indexes back."""
    engine = make_engine(db_url)

    def columns(table: str) -> dict[str, list[str]]:
        return {ix["name"]: list(ix["column_names"]) for ix in inspect(engine).get_indexes(table)}

    try:
        migrate.upgrade(engine, "0008")
        assert columns("findings")["ix_findings_site_report"] == ["site_id", "last_report_id"]
        migrate.upgrade(engine, "0009")
        for table in ("findings", "assets"):
            indexed = columns(table)
            assert not any("last_report_id" in cols or "last_seen_at" in cols for cols in indexed.values())
            assert indexed[f"ix_{table}_site_agent_status"] == ["site_id", "last_agent_id", "status"]
            if engine.dialect.name == "postgresql":
                with engine.connect() as c:
                    options = c.execute(text("SELECT reloptions FROM pg_class WHERE relname = :t"), {"t": table})
                    assert options.scalar_one() == ["fillfactor=70"]
        migrate.downgrade(engine, "0008")
        assert columns("assets")["ix_assets_site_agent_status"] == [
            "site_id",
            "last_agent_id",
            "status",
            "last_report_id",
        ]
        if engine.dialect.name == "postgresql":
            with engine.connect() as c:
                assert c.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'findings'")).scalar() is None
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()


def _insert_finding(engine: Engine, client: str, site: str, ip: str) -> None:
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO findings (client_id, site_id, ident, ip, ip_key, exposure, port, proto, status, severity, "
                "title, kev, first_seen_at, last_seen_at, status_changed_at, last_agent_id, last_report_id, "
                "changed_by_report_id, data) VALUES (:c, :s, :i, :ip, :k, 'rdp', 3389, 'tcp', 'new', 'high', 't', "
                "false, :t, :t, :t, 'ag_a', 'r', 'r', '{}')"
            ),
            {"c": client, "s": site, "i": f"{ip}|rdp|3389|tcp", "ip": ip, "k": ip_key(ip), "t": _AT},
        )


def test_0010_holds_each_row_to_its_site_s_client(db_url: str) -> None:
    """After 0010 a finding naming client B with a site of client A is refused (before, each key held
    alone and it passed); the rows already there stay; downgrading brings the two keys back."""
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine, "0009")
        _populate_0005(engine)  # clients cl_a and cl_b, sites st_a and st_b
        _insert_finding(engine, "cl_a", "st_a", "10.0.0.1")
        _insert_finding(engine, "cl_b", "st_a", "10.0.0.2")  # allowed by two separate keys
        with engine.begin() as c:
            c.execute(text("DELETE FROM findings WHERE client_id = 'cl_b'"))
        migrate.upgrade(engine, "0010")
        _insert_finding(engine, "cl_a", "st_a", "10.0.0.3")
        with pytest.raises(IntegrityError):
            _insert_finding(engine, "cl_b", "st_a", "10.0.0.4")
        with pytest.raises(IntegrityError):
            _insert_finding(engine, "cl_a", "st_nowhere", "10.0.0.5")
        with engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM findings")).scalar_one() == 2
        keys = {fk["name"]: fk["constrained_columns"] for fk in inspect(engine).get_foreign_keys("findings")}
        assert keys == {"fk_findings_site_client_sites": ["site_id", "client_id"]}
        migrate.downgrade(engine, "0009")
        _insert_finding(engine, "cl_b", "st_a", "10.0.0.6")
        with pytest.raises(IntegrityError):
            migrate.upgrade(engine)  # that row contradicts the key: the whole run is refused, nothing kept
        assert migrate.current_revision(engine) == "0009"
        with engine.begin() as c:
            c.execute(text("DELETE FROM findings WHERE client_id = 'cl_b'"))
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()


def _raw_report_compression(engine: Engine) -> str:
    """PostgreSQL's compression of new values of ``reports.raw_report``: '' the server's default,
    'p' pglz, 'l' lz4 (``pg_attribute.attcompression``)."""
    with engine.connect() as c:
        return str(
            c.execute(
                text(
                    "SELECT attcompression FROM pg_attribute "
                    "WHERE attrelid = 'reports'::regclass AND attname = 'raw_report'"
                )
            ).scalar_one()
        )


def test_0011_compresses_reports_with_lz4_and_keeps_them_readable() -> None:
    """This machine's PostgreSQL (Debian's 15) has lz4: after 0011 a report's text is stored with it,
    reads back the same, and the downgrade goes back to pglz with the stored text intact."""
    with postgres_database() as url:
        _lz4_both_ways(make_engine(url))


def _lz4_both_ways(engine: Engine) -> None:
    try:
        migrate.upgrade(engine, "0010")
        assert _raw_report_compression(engine) == ""
        migrate.upgrade(engine, "0011")
        assert _raw_report_compression(engine) == "l"
        _populate_0005(engine)
        raw = '{"findings": [' + ",".join(f'{{"ip": "10.0.{i // 250}.{i % 250}"}}' for i in range(2000)) + "]}"
        with engine.begin() as c:
            c.execute(text("UPDATE reports SET raw_report = :raw"), {"raw": raw})
        with engine.connect() as c:
            methods = c.execute(text("SELECT DISTINCT pg_column_compression(raw_report) FROM reports")).scalars()
            assert methods.all() == ["lz4"]
            assert set(c.execute(text("SELECT raw_report FROM reports")).scalars()) == {raw}
        migrate.downgrade(engine, "0010")
        assert _raw_report_compression(engine) == "p"
        with engine.connect() as c:
            assert set(c.execute(text("SELECT raw_report FROM reports")).scalars()) == {raw}
    finally:
        engine.dispose()


def _steps(engine: Engine) -> dict[str, int]:
    with engine.connect() as c:
        rows = c.execute(
            text(
                "SELECT t, seqincrement FROM unnest(ARRAY['findings', 'assets', 'obligations']) AS t "
                "JOIN pg_sequence ON seqrelid = pg_get_serial_sequence(t, 'id')::regclass"
            )
        )
        return {t: int(step) for t, step in rows}


def test_0012_steps_the_id_sequences_by_blocks_and_processes_never_share_an_id() -> None:
    """After 0012 one ``nextval`` sets aside a block of 4,096 ids: two processes' blocks (two
    ``SequenceBlocks``) and a row that takes the column's default never share an id, a report
    larger than a block takes several, and the downgrade steps by one again."""
    with postgres_database() as url:
        engine = make_engine(url)
        try:
            migrate.upgrade(engine, "0011")
            assert _steps(engine) == {"findings": 1, "assets": 1, "obligations": 1}
            migrate.upgrade(engine, "0012")
            assert _steps(engine) == {"findings": 4096, "assets": 4096, "obligations": 4096}
            _populate_0005(engine)
            first, second = persist.SequenceBlocks(), persist.SequenceBlocks()
            with Session(engine) as s:
                ids = first.take(s, persist.FINDINGS, 100) + second.take(s, persist.FINDINGS, 5000)
                ids += first.take(s, persist.FINDINGS, 4000)
            _insert_finding(engine, "cl_a", "st_a", "10.0.0.9")  # the column's default
            with engine.connect() as c:
                ids.append(c.execute(text("SELECT id FROM findings WHERE ip = '10.0.0.9'")).scalar_one())
            assert len(ids) == len(set(ids)) == 9101
            migrate.downgrade(engine, "0011")
            assert _steps(engine) == {"findings": 1, "assets": 1, "obligations": 1}
            with Session(engine) as s:  # a sequence stepping by one: still a block a call
                taken = persist.SequenceBlocks().take(s, persist.FINDINGS, 10)
            assert len(set(taken)) == 10 and not set(taken) & set(ids)
        finally:
            engine.dispose()
