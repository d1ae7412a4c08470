"""Two private network namespaces joined by one veth pair, for capturing fixtures from real daemons.

Nothing touches the root namespace: both veth ends live inside the pair, there is no route out,
and ``down()`` deletes both namespaces (which removes the veth). Needs root.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType


@dataclass
class NetnsPair:
    prefix: str
    server_ip: str = "198.19.77.1"
    client_ip: str = "198.19.77.2"

    @property
    def server_ns(self) -> str:
        return f"{self.prefix}-srv"

    @property
    def client_ns(self) -> str:
        return f"{self.prefix}-cli"

    def _ip(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True)

    def up(self) -> NetnsPair:
        self.down()
        srv, cli = self.server_ns, self.client_ns
        s_if, c_if = f"{self.prefix}s0", f"{self.prefix}c0"
        self._ip("netns", "add", srv)
        self._ip("netns", "add", cli)
        # Created inside the server namespace, one end moved to the client namespace: the veth
        # never exists in the root namespace.
        self._ip("-n", srv, "link", "add", s_if, "type", "veth", "peer", "name", c_if, "netns", cli)
        for ns, ifname, ip in ((srv, s_if, self.server_ip), (cli, c_if, self.client_ip)):
            self._ip("-n", ns, "addr", "add", f"{ip}/24", "dev", ifname)
            self._ip("-n", ns, "link", "set", ifname, "up")
            self._ip("-n", ns, "link", "set", "lo", "up")
        return self

    def down(self) -> None:
        for ns in (self.server_ns, self.client_ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)

    def server_argv(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.server_ns, *argv]

    def client_argv(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.client_ns, *argv]

    def __enter__(self) -> NetnsPair:
        return self.up()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.down()
