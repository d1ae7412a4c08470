"""Redis predicates (ADV-019; AA23-278A misconfiguration #1): commands accepted without AUTH."""

from __future__ import annotations

from duecare.advisories.predicates.base import Check, NoParams, PredicateRegistry, affected, not_affected
from duecare.probes.redis.facts import RedisFacts
from duecare.wire import Confidence


def register(reg: PredicateRegistry) -> None:
    @reg.add("redis.no_auth", RedisFacts)
    def no_auth(f: RedisFacts, _p: NoParams) -> Check:
        """PING is answered without AUTH: anyone on the network can read, write and reconfigure it."""
        if f.protected_mode:
            return not_affected("protected mode refuses clients from other hosts", confidence=Confidence.CERTAIN)
        if f.auth_required:
            return not_affected("server requires AUTH", confidence=Confidence.CERTAIN)
        details = {"version": f.version, "mode": f.mode, "info_obtained": f.info_obtained}
        return affected(
            f"PING answered without AUTH (Redis {f.version or 'version not disclosed'})",
            confidence=Confidence.CERTAIN,
            details=details,
        )
