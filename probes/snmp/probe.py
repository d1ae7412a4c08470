"""SNMP: one v3 engine discovery plus one read-only GET per (version, default community). Never a SET.

All requests leave together, each on its own socket with its own request id, so a silent agent costs
one short timeout, not five; the first community a version accepts ends the wait for that version.
An agent that answers nothing gives ``timed_out``: over UDP, a wrong community and an absent service
look the same (RFC 3584 §4.1: bad communities are dropped silently). The v3 discovery tells them apart.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import ClassVar

from duecare.probes.base import Facts, Observation, ServiceProbe, Target, evidence
from duecare.probes.context import ProbeContext
from duecare.probes.errors import ProbeTimeout, ProtocolError, Unreachable
from duecare.probes.snmp.facts import CommunityAnswer, SnmpFacts, SnmpVersion
from duecare.probes.snmp.parse import (
    RESPONSE,
    SYS_DESCR,
    SYS_NAME,
    SYS_OBJECT_ID,
    VERSION_V1,
    VERSION_V2C,
    V3Message,
    decode_message,
    decode_v3,
    descr_product,
    encode_get,
    encode_v3_discovery,
    engine_enterprise,
    text,
)
from duecare.wire import Evidence, EvidenceKind, Proto

_VERSIONS: tuple[tuple[SnmpVersion, int], ...] = (("v2c", VERSION_V2C), ("v1", VERSION_V1))
_OIDS = (SYS_DESCR, SYS_OBJECT_ID, SYS_NAME)
#: Per-request wait: a LAN agent answers in milliseconds; the scan should not idle on silent ports.
_UDP_TIMEOUT = 1.5


@dataclass(frozen=True, slots=True)
class _Failed:
    error: Unreachable | ProtocolError


class SnmpProbe(ServiceProbe):
    id: ClassVar[str] = "snmp"
    proto: ClassVar[Proto | None] = Proto.UDP
    ports: ClassVar[frozenset[int]] = frozenset({161})
    services: ClassVar[frozenset[str]] = frozenset({"snmp"})
    facts_model: ClassVar[type[Facts]] = SnmpFacts
    #: The factory defaults (TA17-156A); never a list to guess from.
    communities: ClassVar[tuple[str, ...]] = ("public", "private")

    async def run(self, target: Target, ctx: ProbeContext) -> Observation[SnmpFacts]:
        assert target.port is not None
        timeout = min(ctx.timeouts.read, _UDP_TIMEOUT)
        tried = tuple((name, c) for name, _ in _VERSIONS for c in self.communities)
        # One exchange of a few datagrams sent together: paced once, then each one unpaced.
        await ctx.pace()
        async with asyncio.TaskGroup() as tg:
            v3_task = tg.create_task(self._discover(target, ctx, timeout))
            version_tasks = [tg.create_task(self._version(target, ctx, timeout, n, v)) for n, v in _VERSIONS]
        v3 = v3_task.result()
        results = [r for t in version_tasks for r in t.result()]
        accepted = tuple(r for r in results if isinstance(r, CommunityAnswer))
        failures = [r.error for r in (v3, *results) if isinstance(r, _Failed)]
        if not accepted and not isinstance(v3, V3Message):
            for kind in (Unreachable, ProtocolError):
                for err in failures:
                    if isinstance(err, kind):
                        raise err
            raise ProbeTimeout(f"no SNMP answer from {target.host}:{target.port} (v3 discovery, v1, v2c)")

        descr = next((a.sys_descr for a in accepted if a.sys_descr), None)
        product, version = descr_product(descr) if descr else (None, None)
        engine = v3.engine_id if isinstance(v3, V3Message) else None
        facts = SnmpFacts(
            tried=tried,
            accepted=accepted,
            v3_answered=engine is not None,
            v3_engine_id=engine.hex() if engine else None,
            v3_enterprise=engine_enterprise(engine) if engine else None,
            v3_engine_boots=v3.engine_boots if isinstance(v3, V3Message) else None,
            v3_engine_time=v3.engine_time if isinstance(v3, V3Message) else None,
            product=product,
            version=version,
        )
        return Observation(facts, tuple(self._evidence(target, facts)))

    def _evidence(self, target: Target, facts: SnmpFacts) -> list[Evidence]:
        where = f"{target.host}:{target.port}"
        ev = []
        for a in facts.accepted:
            named = (("sysDescr", a.sys_descr), ("sysObjectID", a.sys_object_id), ("sysName", a.sys_name))
            lines = [f"{label}: {value}" for label, value in named if value is not None]
            summary = f"SNMP {a.version} GET with community '{a.community}' answered by {where}"
            ev.append(
                evidence(
                    self.id,
                    EvidenceKind.HANDSHAKE,
                    summary,
                    "\n".join(lines) or f"error-status {a.error_status}",
                )
            )
        if facts.v3_answered:
            summary = f"SNMPv3 engine discovery answered by {where}"
            excerpt = f"engine id {facts.v3_engine_id}, enterprise {facts.v3_enterprise}"
            ev.append(evidence(self.id, EvidenceKind.HANDSHAKE, summary, excerpt))
        return ev

    async def _version(
        self, target: Target, ctx: ProbeContext, timeout: float, version: SnmpVersion, number: int
    ) -> list[CommunityAnswer | _Failed | None]:
        """Ask with every community at once; the first accepted one ends the wait for this version."""
        tasks = [asyncio.create_task(self._get(target, ctx, timeout, version, number, c)) for c in self.communities]
        results: list[CommunityAnswer | _Failed | None] = []
        try:
            for next_done in asyncio.as_completed(tasks):
                result = await next_done
                results.append(result)
                if isinstance(result, CommunityAnswer):
                    break
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return results

    async def _discover(self, target: Target, ctx: ProbeContext, timeout: float) -> V3Message | _Failed | None:
        msg_id, request_id = secrets.randbelow(2**31 - 1), secrets.randbelow(2**31 - 1)
        try:
            raw, _ = await ctx.udp_exchange(
                target.host,
                target.port or 161,
                encode_v3_discovery(msg_id, request_id),
                timeout=timeout,
                retries=0,
                paced=False,
            )
            msg = decode_v3(raw)
            if msg.msg_id != msg_id:
                raise ProtocolError("SNMPv3 answer with a msgID we did not send")
            return msg
        except ProbeTimeout:
            return None
        except (Unreachable, ProtocolError) as exc:
            return _Failed(exc)
        except OSError as exc:  # no route, no socket: the asyncio endpoint raises these bare
            return _Failed(Unreachable(f"UDP to {target.host}: {exc.strerror or exc}"))

    async def _get(
        self, target: Target, ctx: ProbeContext, timeout: float, version: SnmpVersion, number: int, community: str
    ) -> CommunityAnswer | _Failed | None:
        request_id = secrets.randbelow(2**31 - 1)
        packet = encode_get(number, community.encode(), request_id, _OIDS)
        try:
            raw, _ = await ctx.udp_exchange(
                target.host, target.port or 161, packet, timeout=timeout, retries=0, paced=False
            )
            msg = decode_message(raw)
            mine = (RESPONSE, request_id, number, community.encode())
            # Our ids are non-negative; an agent that drops the leading zero octet still echoes ours.
            if (msg.pdu.tag, msg.pdu.request_id % 2**32, msg.version, msg.community) != mine:
                raise ProtocolError("SNMP answer that does not match our request")
        except ProbeTimeout:
            return None
        except (Unreachable, ProtocolError) as exc:
            return _Failed(exc)
        except OSError as exc:  # no route, no socket: the asyncio endpoint raises these bare
            return _Failed(Unreachable(f"UDP to {target.host}: {exc.strerror or exc}"))
        return CommunityAnswer(
            version=version,
            community=community,
            error_status=msg.pdu.error_status,
            sys_descr=text(msg.pdu.get(SYS_DESCR), 1024),
            sys_object_id=text(msg.pdu.get(SYS_OBJECT_ID), 256),
            sys_name=text(msg.pdu.get(SYS_NAME), 256),
        )
