"""The one place python-nmap is used. Its exceptions become ours here, once."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import nmap

from duecare.probes.errors import NotPermitted, ProbeTimeout, ProtocolError
from duecare.probes.ports.facts import PortScan
from duecare.probes.ports.parse import parse_nmap_xml

NMAP_DATA = Path("/usr/share/nmap")


class Nmap:
    """Runs nmap for discovery and port scans; parsing is the pure ``parse_nmap_xml``.

    ``privileged`` chooses SYN/ARP techniques (raw sockets) or connect/TCP-ping ones, and is passed
    to nmap explicitly so nmap never guesses differently from us (e.g. uid 0 without CAP_NET_RAW).
    """

    def __init__(self, *, privileged: bool, timing: str = "-T4", host_timeout_s: int = 300, min_rate: int = 0) -> None:
        self.privileged = privileged
        self.timing = timing
        self.host_timeout_s = host_timeout_s
        self.min_rate = min_rate

    def _run(
        self,
        hosts: Sequence[str],
        ports: str | None,
        args: list[str],
        timeout_s: float,
        host_timeout_s: float | None = None,
    ) -> PortScan:
        if not hosts:
            return PortScan()
        mode = "--privileged" if self.privileged else "--unprivileged"
        with tempfile.NamedTemporaryFile("w", prefix="duecare-targets-", suffix=".txt") as tf:
            tf.write("\n".join(hosts) + "\n")
            tf.flush()
            arguments = [
                *args,
                mode,
                "-n",
                self.timing,
                "-iL",
                tf.name,
                "--host-timeout",
                f"{int(host_timeout_s or self.host_timeout_s)}s",
            ]
            scanner = nmap.PortScanner()
            try:
                scanner.scan(hosts="", ports=ports, arguments=" ".join(arguments), timeout=int(timeout_s) or 1)
            except nmap.PortScannerTimeout as exc:
                raise ProbeTimeout(f"nmap did not finish within {timeout_s:.0f}s") from exc
            except nmap.PortScannerError as exc:
                text = str(exc)
                if "requires root" in text or "Operation not permitted" in text:
                    raise NotPermitted(f"nmap: {text.strip()[:300]}") from exc
                # python-nmap raises when nmap printed no XML; keep nmap's own words.
                raise ProtocolError(f"nmap failed: {text.strip()[:500]}") from exc
            xml = scanner.get_nmap_last_output()
        return parse_nmap_xml(xml if isinstance(xml, bytes) else xml.encode())

    def ping(self, hosts: Sequence[str], *, timeout_s: float) -> PortScan:
        """Host discovery only (``-sn``): ARP on attached subnets when privileged, TCP ping otherwise."""
        return self._run(hosts, None, ["-sn"], timeout_s)

    def ports(self, hosts: Sequence[str], *, tcp: str, udp: str, timeout_s: float) -> PortScan:
        """Port states for already-discovered hosts (``-Pn``): SYN scan or connect scan, and the UDP
        scan when privileged. The scan asks for one of them (the other spec empty) to pipeline them."""
        techniques = []
        spec = []
        if tcp:
            techniques.append("-sS" if self.privileged else "-sT")
            spec.append(f"T:{tcp}")
        if udp and self.privileged:
            techniques.append("-sU")
            spec.append(f"U:{udp}")
        if not spec:
            return PortScan()
        args = [*techniques, "-Pn", "--reason", "--max-retries", "2"]
        if self.min_rate:
            args += ["--min-rate", str(self.min_rate)]
        return self._run(hosts, ",".join(spec), args, timeout_s)

    def versions(self, hosts: Sequence[str], *, tcp: str, timeout_s: float, host_timeout_s: float) -> PortScan:
        """nmap's version detection (``-sV --version-light``) on ports the identification stage could
        not name. ``host_timeout_s`` bounds each host: a tarpit must not hold the scan."""
        args = ["-sS" if self.privileged else "-sT", "-sV", "--version-light", "-Pn", "--max-retries", "2"]
        return self._run(hosts, f"T:{tcp}", args, timeout_s, host_timeout_s)


def read_data_file(name: str) -> str:
    """nmap's own tables (nmap-services, nmap-mac-prefixes), found where nmap keeps them."""
    for base in (Path(os.environ.get("NMAPDIR", NMAP_DATA)), NMAP_DATA):
        path = base / name
        if path.is_file():
            return path.read_text(encoding="utf-8", errors="replace")
    raise NotPermitted(f"nmap data file {name} not found (is nmap installed?)")
