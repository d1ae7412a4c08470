"""Query plans of the per-report path at a grown site (issue 15): every statement a new-findings, a
settling and a steady report run, EXPLAINed with their own parameters, full scans of site state flagged.

A site is filled with ~50,000 findings of four agents (big reports, as nights of a /16 would), then
one agent posts a report of 100 new findings in a fresh /24, then a fifth agent the same report of
50 findings four times (the third settles, the fourth takes the steady path). Each statement
executed for those reports is recorded (SQLAlchemy's ``before_cursor_execute``) and explained:
SQLite ``EXPLAIN QUERY PLAN``, PostgreSQL ``EXPLAIN``. A plan that reads every row of the site's
findings or assets (``SCAN``, a ``SEARCH`` by the site alone, ``Seq Scan``) is marked ``FULL``.

Usage: python bench/site_plans.py [--backends sqlite,postgresql] [--findings 50000] [--verbose]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1]))

from sqlalchemy import event

from bench.collector_bench import EXPOSURES, _new_findings, _same_findings
from bench.ingest_cpu import _poster, in_process
from duecare.collector import admin
from duecare.collector.db.session import Database
from tests.collector.factories import finding

#: The tables that grow with a site. (PostgreSQL reads the few rows of sites, agents and a young
#: reports table by Seq Scan, as it should; SQLite's plans show their keyed lookups.)
_SITE_TABLES = ("findings", "assets")
#: SQLite: SCAN (a whole table or a whole index, in order), or a SEARCH of findings or assets by the
#: site alone (every row of the site), as opposed to a SEARCH of an index range.
_SQLITE_FULL = re.compile(
    r"^SCAN (\w+)|^SEARCH (findings|assets) USING (?!INDEX ix_findings_site_exposed).*\(site_id=\?\)$"
)
_PG_FULL = re.compile(r"Seq Scan on (\w+)()")


def _big(agent_no: int, n: int) -> tuple[list[Any], str]:
    items = []
    for i in range(n):
        host = i // len(EXPOSURES)
        items.append(finding(f"10.{agent_no}.{host // 250}.{host % 250 + 1}", EXPOSURES[i % len(EXPOSURES)], 1000))
    return items, f"10.{agent_no}.0.0/16"


def _explain(db: Database, kind: str, statement: str, params: Any) -> list[str]:
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        if kind == "sqlite":
            cur.execute(f"EXPLAIN QUERY PLAN {statement}", params)
            return [str(r[-1]) for r in cur.fetchall()]
        cur.execute(f"EXPLAIN {statement}", params)
        return [str(r[0]) for r in cur.fetchall()]
    finally:
        raw.rollback()
        raw.close()


def _full(kind: str, plan: list[str]) -> list[str]:
    pattern = _SQLITE_FULL if kind == "sqlite" else _PG_FULL
    hits = [m.group(1) or m.group(2) for line in plan for m in [pattern.search(line.strip())] if m]
    return [t for t in hits if t in _SITE_TABLES]


def run(kind: str, total: int, verbose: bool) -> int:
    fulls = 0
    with in_process(kind, "duecare-plans-") as collector:
        db = collector.db
        agents = [collector.enroll("plans", "grown")]
        for _ in range(3):
            token = admin.mint_enrollment_token(db, "plans", "grown").secret
            agents.append(collector.enroll("plans", "grown", token))
        for no, agent in enumerate(agents):
            items, net = _big(no, total // 4)
            _poster(collector, agent, False)(json.dumps(agent.chain.next(findings=items, targets=[net])).encode())
        if kind == "postgresql":
            # Planner statistics as autovacuum would have them for a site grown over nights (a
            # bulk load of fewer than ``persist._Loads.FIRST`` rows does not analyze).
            with db.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
        one = _poster(collector, agents[0], False)
        items, net = _new_findings(200 * 250)
        new = json.dumps(agents[0].chain.next(findings=items, targets=[net])).encode()
        # The steady night is an agent whose every report says the same (nothing left to resolve).
        token = admin.mint_enrollment_token(db, "plans", "grown").secret
        quiet = collector.enroll("plans", "grown", token)
        same = [
            json.dumps(quiet.chain.next(findings=_same_findings(), targets=["198.18.0.0/24"])).encode()
            for _ in range(4)
        ]
        steady = _poster(collector, quiet, False)
        # "settle": the report that changes nothing and checks that nothing is left unseen (``_settled``).
        runs = (("new", [], new, one), ("settle", same[:2], same[2], steady), ("steady", [], same[3], steady))
        for name, warm, body, post in runs:
            for raw in warm:
                post(raw)
            seen: list[tuple[str, Any]] = []
            before = fulls

            def record(
                conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool, out: Any = seen
            ) -> None:
                out.append((statement, parameters[0] if many and parameters else parameters))

            event.listen(db.engine, "before_cursor_execute", record)
            try:
                post(body)
            finally:
                event.remove(db.engine, "before_cursor_execute", record)
            for statement, params in seen:
                head = statement.split()[0].upper()
                if head not in ("SELECT", "UPDATE", "DELETE", "INSERT", "WITH") or "FROM STDIN" in statement:
                    continue
                if "stage_" in statement and kind == "sqlite":
                    # Reads of this connection's TEMP stage (collector/staging.py): a few rows, and
                    # another connection cannot see them to explain them; publish copies them whole.
                    print(f"{kind} {name} stage: {' '.join(statement.split())[:160]}")
                    continue
                plan = _explain(db, kind, statement, params)
                full = _full(kind, plan)
                fulls += bool(full)
                flat = " ".join(statement.split())
                if full or verbose:
                    print(f"{kind} {name} {'FULL ' + ','.join(full) if full else 'ok'}: {flat[:300]}")
                    for line in plan:
                        print(f"    {line}")
            print(f"SUMMARY {kind} {name}: {len(seen)} statements, {fulls - before} with a full scan of site state")
    return fulls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--findings", type=int, default=50_000)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    for kind in args.backends.split(","):
        run(kind, args.findings, args.verbose)


if __name__ == "__main__":
    main()
