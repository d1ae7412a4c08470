"""The namespace lab: an isolated 198.18.0.0/24 "office LAN" of real Debian daemons.

Topology: a bridge namespace ``<prefix>-br`` holds ``br0``; every host (the scanner
``<prefix>-scan`` at .2, and ``<prefix>-h<octet>`` for the rest) has ``eth0`` on that bridge through
a veth pair created inside the bridge namespace. Nothing is in the root namespace: no link, no
address, no route, no NAT, and nothing is ever sent from it.

State (configs, keys, logs, pid files) lives in a temp dir owned by the ``Lab``; the PIDs it started
are written to ``/run/duecare-lab-<prefix>.json`` so ``python -m duecare.lab down`` (another process)
and the next ``up()`` of the same prefix can end exactly those processes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from duecare.lab import netns, procs
from duecare.lab import router as router_mod
from duecare.lab.daemon import Daemon
from duecare.lab.hosts import SCANNER_OCTET, SUBNET, Host, default_hosts
from duecare.lab.router import Router
from duecare.lab.services import SERVICES

PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{0,9}$")
STATE_DIR = Path("/run")
PROBE = Path(__file__).resolve().parent / "probe.py"
UP_DEADLINE = 45.0  # seconds for every daemon to answer; the whole up() must stay under 60 s
BASE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


class LabError(RuntimeError):
    """The lab could not be built; the message names the daemon and quotes its log."""


def state_path(prefix: str) -> Path:
    return STATE_DIR / f"duecare-lab-{prefix}.json"


def _lab_namespaces(prefix: str) -> list[str]:
    """Existing namespaces that belong to a lab with exactly this prefix (not e.g. ``<prefix>x-br``)."""
    pattern = re.compile(rf"^{re.escape(prefix)}-(br|scan|rt|inet|h\d{{1,3}})$")
    return [ns for ns in netns.existing() if pattern.match(ns)]


def _firewall_rules(allow_tcp: Sequence[int]) -> str:
    ports = ", ".join(str(p) for p in allow_tcp)
    # inet family hooks never see ARP, so the host stays discoverable by ARP; ICMP is allowed too.
    # Everything else inbound is dropped silently, which nmap reports as "filtered".
    return (
        "table inet lab_fw {\n"
        "  chain input {\n"
        "    type filter hook input priority 0; policy drop;\n"
        '    iif "lo" accept\n'
        "    ct state established,related accept\n"
        "    meta l4proto icmp accept\n"
        f"    tcp dport {{ {ports} }} accept\n"
        "  }\n"
        "}\n"
    )


class Lab:
    """Build with ``up()`` (or ``with Lab() as lab:``), tear down with ``down()``."""

    def __init__(
        self, prefix: str = "dclab", hosts: Sequence[Host | str] | None = None, *, router: bool = False
    ) -> None:
        """``router=True`` adds the office router and the lab internet (``router.py``); opt-in, it
        costs a few seconds (miniupnpd's STUN check and the UPnP mapping) and three daemons."""
        if not PREFIX_RE.match(prefix):
            raise ValueError(f"lab prefix {prefix!r} must match {PREFIX_RE.pattern} (namespace names stay short)")
        self.prefix = prefix
        catalog = default_hosts()
        if hosts is None:
            chosen = catalog
        else:
            by_name = {h.name: h for h in catalog}
            chosen = [by_name[h] if isinstance(h, str) else h for h in hosts]
            if not any(h.octet == SCANNER_OCTET for h in chosen):
                chosen.insert(0, by_name["scanner"])
        octets = [h.octet for h in chosen]
        if len(set(octets)) != len(octets):
            raise ValueError(f"duplicate host octets in {octets}")
        self.hosts: list[Host] = [dataclasses.replace(h, namespace=self._ns_name(h)) for h in chosen]
        self.subnet = str(SUBNET)
        self.bridge_ns = f"{prefix}-br"
        self.scanner_ns = f"{prefix}-scan"
        self.router: Router | None = Router(prefix) if router else None
        self.workdir: Path | None = None
        self.timings: dict[str, float] = {}
        self._refs: list[procs.ProcRef] = []
        self._popens: list[subprocess.Popen[bytes]] = []

    # -- public API -------------------------------------------------------------------------

    def host(self, name: str) -> Host:
        return next(h for h in self.hosts if h.name == name)

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside the scanner namespace (198.18.0.2)."""
        return [*netns.exec_prefix(self.scanner_ns), *argv]

    @property
    def namespaces(self) -> list[str]:
        extra = self.router.namespaces if self.router is not None else []
        return [self.bridge_ns, *(h.namespace for h in self.hosts), *extra]

    def internet_argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside the lab internet (203.0.113.2), which reaches only the router's WAN address."""
        if self.router is None:
            raise LabError("this lab has no router: build it with Lab(..., router=True)")
        return [*netns.exec_prefix(self.router.internet_ns), *argv]

    @property
    def processes(self) -> list[procs.ProcRef]:
        return list(self._refs)

    def exec_env(self) -> dict[str, str]:
        """Environment for commands run with ``exec_argv``: keeps client state in the work dir
        (net-snmp tools otherwise create /var/lib/snmp/cert_indexes)."""
        home = (self.workdir or Path(tempfile.gettempdir())) / "scanner-home"
        return {**BASE_ENV, "HOME": str(home), "SNMP_PERSISTENT_DIR": str(home / "snmp")}

    def up(self) -> Lab:
        if self.workdir is not None:  # up() twice on one object: start from scratch
            self.down()
        t0 = time.monotonic()
        teardown_prefix(self.prefix)
        try:
            self.workdir = Path(tempfile.mkdtemp(prefix=f"duecare-lab-{self.prefix}-"))
            # Daemons drop privileges (nginx workers: www-data, vsftpd: ftp/nobody) and must read here.
            self.workdir.chmod(0o755)
            self._save_state()
            self._build_topology()
            self.timings["topology"] = time.monotonic() - t0
            daemons = self._start_daemons()
            self.timings["spawn"] = time.monotonic() - t0
            self._wait_ready(daemons, deadline=time.monotonic() + UP_DEADLINE)
            if self.router is not None:
                self._router_up(deadline=time.monotonic() + UP_DEADLINE)
                self.timings["router"] = time.monotonic() - t0
        except BaseException:
            self.down()
            raise
        self.timings["up"] = time.monotonic() - t0
        return self

    def down(self) -> None:
        t0 = time.monotonic()
        swept = [pid for ns in _lab_namespaces(self.prefix) for pid in netns.pids(ns)]
        procs.terminate(self._refs, swept)
        for popen in self._popens:
            with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILLed by terminate(); init reaps it later
                popen.wait(timeout=5)
        for ns in _lab_namespaces(self.prefix):
            netns.delete(ns)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        state_path(self.prefix).unlink(missing_ok=True)
        self._refs.clear()
        self._popens.clear()
        self.workdir = None
        self.timings["down"] = time.monotonic() - t0

    def __enter__(self) -> Lab:
        return self.up()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.down()

    # -- topology ---------------------------------------------------------------------------

    def _ns_name(self, host: Host) -> str:
        return f"{self.prefix}-scan" if host.octet == SCANNER_OCTET else f"{self.prefix}-h{host.octet}"

    def _build_topology(self) -> None:
        netns.add(self.bridge_ns)
        netns.add_bridge(self.bridge_ns)
        self._build_hosts()
        if self.router is not None:
            self.router.build(self.bridge_ns, [h.namespace for h in self.hosts])

    def _build_hosts(self) -> None:
        for host in self.hosts:
            netns.add(host.namespace)
            netns.attach(self.bridge_ns, host.namespace, f"v{host.octet}", host.mac, host.cidr)
            if host.firewall_allow_tcp is not None:
                proc = subprocess.run(
                    [*netns.exec_prefix(host.namespace), "nft", "-f", "-"],
                    input=_firewall_rules(host.firewall_allow_tcp),
                    capture_output=True,
                    text=True,
                )
                if proc.returncode != 0:
                    raise LabError(f"nftables on {host.name} ({host.namespace}): {proc.stderr.strip()}")

    # -- daemons ----------------------------------------------------------------------------

    def _start_daemons(self) -> list[tuple[Host, Daemon, subprocess.Popen[bytes]]]:
        assert self.workdir is not None
        planned: list[tuple[Host, Daemon]] = []
        for host in self.hosts:
            for key in host.services:
                hostdir = self.workdir / host.name / key
                hostdir.mkdir(parents=True, exist_ok=True)
                planned.append((host, SERVICES[key](host, hostdir)))
            served = {p for h, d in planned if h is host for p in d.tcp_ports}
            if served != set(host.tcp_ports) | set(host.tcp_filtered):
                raise LabError(
                    f"{host.name}: daemons serve tcp {sorted(served)}, spec expects "
                    f"{sorted(set(host.tcp_ports) | set(host.tcp_filtered))}"
                )
        started = []
        for host, daemon in planned:
            log = self.workdir / host.name / f"{daemon.name}.out"
            env = {**BASE_ENV, "HOME": str(self.workdir), **daemon.env}
            popen, ref = procs.spawn(
                daemon.launch_argv(host.namespace, host.hostname), log, env, name=daemon.name, host=host.name
            )
            self._popens.append(popen)
            self._refs.append(ref)
            started.append((host, daemon, popen))
        self._save_state()
        return started

    def _failure(self, host: Host, daemon: Daemon, popen: subprocess.Popen[bytes], why: str) -> LabError:
        assert self.workdir is not None
        parts = [f"lab daemon {daemon.name} on {host.name} ({host.ip}, netns {host.namespace}) {why}"]
        for log in (self.workdir / host.name / f"{daemon.name}.out", *daemon.logs):
            parts.append(f"--- tail of {log}:\n{procs.log_tail(log)}")
        return LabError("\n".join(parts))

    def _wait_ready(self, started: list[tuple[Host, Daemon, subprocess.Popen[bytes]]], deadline: float) -> None:
        # Open ports are checked from the scanner (that also proves the bridge works); ports the
        # firewall filters can only be checked from inside the host's own namespace.
        pending_tcp: dict[tuple[str, str], tuple[Host, Daemon, subprocess.Popen[bytes]]] = {}
        pending_udp: list[tuple[Host, Daemon, subprocess.Popen[bytes]]] = []
        for entry in started:
            host, daemon, _ = entry
            for port in daemon.tcp_ports:
                ns = host.namespace if port in host.tcp_filtered else self.scanner_ns
                pending_tcp[(ns, f"{host.ip}:{port}")] = entry
            if daemon.udp_ports:
                pending_udp.append(entry)
        while pending_tcp or pending_udp:
            for host, daemon, popen in started:
                if popen.poll() is not None:
                    raise self._failure(host, daemon, popen, f"exited with status {popen.returncode}")
            for ns in sorted({ns for ns, _ in pending_tcp}):
                endpoints = [ep for n, ep in pending_tcp if n == ns]
                for ep in self.probe_tcp(endpoints, ns=ns)["open"]:
                    del pending_tcp[(ns, ep)]
            pending_udp = [e for e in pending_udp if not self.snmp_get(e[0], "1.3.6.1.2.1.1.5.0")]
            if not (pending_tcp or pending_udp):
                return
            if time.monotonic() > deadline:
                if pending_tcp:
                    (ns, ep), (host, daemon, popen) = next(iter(pending_tcp.items()))
                    raise self._failure(host, daemon, popen, f"did not accept TCP {ep} (from {ns}) in time")
                host, daemon, popen = pending_udp[0]
                raise self._failure(host, daemon, popen, f"did not answer SNMP on udp/161 at {host.ip} in time")
            time.sleep(0.2)

    def _router_up(self, deadline: float) -> None:
        """Start the router's daemons, wait for IGD and WAN telnet, then set the forwards and mappings."""
        assert self.router is not None
        assert self.workdir is not None
        started: list[tuple[str, Daemon, subprocess.Popen[bytes]]] = []
        for ns, daemon in self.router.daemons(self.workdir / "router"):
            log = self.workdir / "router" / f"{daemon.name}.out"
            env = {**BASE_ENV, "HOME": str(self.workdir)}
            popen, ref = procs.spawn(daemon.launch_argv(ns, "ROUTER01"), log, env, name=daemon.name, host="router")
            self._popens.append(popen)
            self._refs.append(ref)
            started.append((ns, daemon, popen))
        self._save_state()
        pending = {
            (self.scanner_ns, f"{router_mod.LAN_IP}:{router_mod.IGD_PORT}"),
            (self.router.internet_ns, f"{router_mod.WAN_IP}:{router_mod.WAN_TELNET}"),
        }
        while pending:
            for ns, daemon, popen in started:
                if popen.poll() is not None:
                    log = self.workdir / "router" / f"{daemon.name}.out"
                    raise LabError(f"router daemon {daemon.name} ({ns}) exited: {procs.log_tail(log)}")
            for ns, ep in list(pending):
                if self.probe_tcp([ep], ns=ns)["open"]:
                    pending.discard((ns, ep))
            if pending and time.monotonic() > deadline:
                raise LabError(f"router: {sorted(pending)} did not open in time")
            if pending:
                time.sleep(0.2)
        self.set_static_forwards(router_mod.STATIC_FORWARDS)
        names = {h.name for h in self.hosts}
        for name, wan_port, port in router_mod.UPNP_MAPPINGS:
            if name in names:
                host = self.host(name)
                self.router.add_upnp_mapping(host.namespace, host.ip, wan_port, port)

    def set_static_forwards(self, forwards: Sequence[tuple[int, str, int]]) -> None:
        """(WAN port, lab host name, host port) forwards on the router, replacing the current ones."""
        if self.router is None:
            raise LabError("this lab has no router")
        names = {h.name for h in self.hosts}
        self.router.set_forwards([(wan, self.host(name).ip, port) for wan, name, port in forwards if name in names])

    def probe_tcp(
        self, endpoints: Sequence[str], *, ns: str | None = None, timeout: float = 0.5
    ) -> dict[str, list[str]]:
        """TCP-connect ``ip:port`` endpoints from ``ns`` (default: the scanner namespace).

        Returns ``{"open": [...], "refused": [...], "silent": [...]}`` (see probe.py).
        """
        argv = [
            *netns.exec_prefix(ns or self.scanner_ns),
            sys.executable,
            str(PROBE),
            "--timeout",
            str(timeout),
            *endpoints,
        ]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 15)
        if proc.returncode != 0:
            raise LabError(f"port probe in {ns or self.scanner_ns} failed: {proc.stderr.strip()}")
        result: dict[str, list[str]] = json.loads(proc.stdout)
        return result

    def count_connections(self, host: Host) -> None:
        """Start counting connection attempts (TCP SYNs without ACK) to each of ``host``'s TCP ports,
        from zero, in the host's own namespace (nftables named counters; see ``connections``)."""
        counters = "".join(f"  counter p{p} {{ }}\n" for p in host.tcp_ports)
        rules = "".join(
            f'    tcp dport {p} tcp flags & (syn | ack) == syn counter name "p{p}"\n' for p in host.tcp_ports
        )
        ruleset = (
            "table inet lab_count\ndelete table inet lab_count\n"
            f"table inet lab_count {{\n{counters}  chain input {{\n"
            f"    type filter hook input priority -10; policy accept;\n{rules}  }}\n}}\n"
        )
        self._nft(host, ["-f", "-"], ruleset)

    def connections(self, host: Host) -> dict[int, int]:
        """Connection attempts per TCP port since ``count_connections(host)``."""
        out = json.loads(self._nft(host, ["-j", "list", "counters", "table", "inet", "lab_count"]))
        counts: dict[int, int] = {}
        for item in out.get("nftables", []):
            counter = item.get("counter")
            if counter and str(counter.get("name", "")).startswith("p"):
                counts[int(counter["name"][1:])] = int(counter["packets"])
        return counts

    def _nft(self, host: Host, args: list[str], stdin: str = "") -> str:
        proc = subprocess.run(
            [*netns.exec_prefix(host.namespace), "nft", *args], input=stdin, capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise LabError(f"nft {' '.join(args)} on {host.name} ({host.namespace}): {proc.stderr.strip()}")
        return proc.stdout

    def snmp_get(self, host: Host, oid: str, community: str | None = None) -> str | None:
        """SNMPv2c GET from the scanner namespace; the value, or None when there is no answer."""
        comm = community or host.facts.get("snmp_community", "public")
        argv = self.exec_argv(["snmpget", "-v2c", "-c", comm, "-t", "0.5", "-r", "0", "-Oqv", host.ip, oid])
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=10, env=self.exec_env())
        return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None

    # -- state file -------------------------------------------------------------------------

    def _save_state(self) -> None:
        state = {
            "prefix": self.prefix,
            "workdir": str(self.workdir) if self.workdir else None,
            "namespaces": self.namespaces,
            "processes": [r.to_json() for r in self._refs],
            "hosts": [{"name": h.name, "ip": h.ip, "namespace": h.namespace} for h in self.hosts],
            "created": time.time(),
        }
        tmp = state_path(self.prefix).with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        os.replace(tmp, state_path(self.prefix))


@dataclasses.dataclass(frozen=True)
class Teardown:
    namespaces: list[str]
    pids: list[int]
    sigkilled: list[int]
    seconds: float


def teardown_prefix(prefix: str) -> Teardown:
    """End everything a lab with this prefix left behind: recorded PIDs, processes still inside its
    namespaces, the namespaces themselves, its work dir and state file. Used by ``up()`` and by the
    CLI ``down``."""
    if not PREFIX_RE.match(prefix):
        raise ValueError(f"bad lab prefix {prefix!r}")
    t0 = time.monotonic()
    refs: list[procs.ProcRef] = []
    workdir: Path | None = None
    path = state_path(prefix)
    if path.exists():
        state = json.loads(path.read_text())
        refs = [procs.ProcRef.from_json(p) for p in state.get("processes", [])]
        wd = state.get("workdir")
        # Only ever delete a directory this lab created (mkdtemp prefix check).
        if wd and Path(wd).name.startswith(f"duecare-lab-{prefix}-"):
            workdir = Path(wd)
    namespaces = _lab_namespaces(prefix)
    swept = [pid for ns in namespaces for pid in netns.pids(ns)]
    live = [r.pid for r in refs if procs.alive(r)]
    killed = procs.terminate(refs, swept)
    for ns in namespaces:
        netns.delete(ns)
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)
    path.unlink(missing_ok=True)
    pids = sorted(set(live) | set(swept))
    return Teardown(namespaces, pids, killed, round(time.monotonic() - t0, 2))
