"""MongoDB predicates (ADV-019): databases listed without authentication."""

from __future__ import annotations

from duecare.advisories.predicates.base import Check, NoParams, PredicateRegistry, affected, indeterminate, not_affected
from duecare.probes.mongodb.facts import MongodbFacts
from duecare.wire import Confidence


def register(reg: PredicateRegistry) -> None:
    @reg.add("mongodb.no_auth", MongodbFacts)
    def no_auth(f: MongodbFacts, _p: NoParams) -> Check:
        """listDatabases answers an unauthenticated client (an Unauthorized error means auth is on)."""
        if f.auth_enforced is None:
            return indeterminate(f"listDatabases gave no clear answer ({f.list_error or 'no detail'})")
        if f.auth_enforced:
            return not_affected("listDatabases refused as Unauthorized", confidence=Confidence.CERTAIN)
        details = {"version": f.version, "database_count": f.database_count, "databases": list(f.database_names)}
        return affected(
            f"listDatabases answered without authentication ({f.database_count} databases)",
            confidence=Confidence.CERTAIN,
            details=details,
        )
