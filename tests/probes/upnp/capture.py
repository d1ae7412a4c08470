"""Re-record the UPnP fixtures from miniupnpd (Debian 12 package miniupnpd 2.3.1, nftables build).

Run as root from the repo root: ``.venv/bin/python -m tests.probes.upnp.capture``. miniupnpd runs
in a private namespace (a veth pair inside it stands in for the WAN side); the client namespace sends
the probe's own unicast M-SEARCH, stores every answer datagram, and fetches the description at
LOCATION. Nothing leaves the pair.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.probes.netns_pair import NetnsPair

FIXTURES = Path(__file__).parent / "fixtures"
CONF = """ext_ifname=ahpwan0
listening_ip={lan_if}
port=5000
enable_natpmp=no
enable_upnp=yes
secure_mode=yes
system_uptime=yes
uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b
friendly_name=duecare lab router
model_number=2.3.1-lab
serial=00000000
"""


def _client(host: str, out: Path) -> None:
    from duecare.probes.upnp.parse import m_search

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2.0)
        s.sendto(m_search(host), (host, 1900))
        answers = []
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            try:
                data, _addr = s.recvfrom(8192)
            except TimeoutError:
                break
            answers.append(data)
    for i, data in enumerate(answers):
        (out / f"miniupnpd231_ssdp_{i:02d}.txt").write_bytes(data)
    location = next(
        line.split(":", 1)[1].strip()
        for data in answers
        for line in data.decode().split("\r\n")
        if line.upper().startswith("LOCATION:")
    )
    with urllib.request.urlopen(location, timeout=3) as r:
        (out / "miniupnpd231_rootDesc.xml").write_bytes(r.read())
    print(f"{len(answers)} answers, description from {location}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        _client(sys.argv[2], Path(sys.argv[3]))
        return
    with tempfile.TemporaryDirectory(prefix="ahp-upnp-") as t, NetnsPair("ahp") as pair:
        tmp = Path(t)
        # No dummy module here: a veth pair with both ends inside the server namespace plays the WAN.
        subprocess.run(
            pair.server_argv(["ip", "link", "add", "ahpwan0", "type", "veth", "peer", "name", "ahpwan1"]), check=True
        )
        subprocess.run(pair.server_argv(["ip", "addr", "add", "198.19.78.1/24", "dev", "ahpwan0"]), check=True)
        subprocess.run(pair.server_argv(["ip", "link", "set", "ahpwan0", "up"]), check=True)
        # SSDP joins 239.255.255.250 on the LAN interface; it needs a multicast-capable route.
        subprocess.run(pair.server_argv(["ip", "route", "add", "239.0.0.0/8", "dev", "ahps0"]), check=True)
        (tmp / "miniupnpd.conf").write_text(CONF.format(lan_if="ahps0"))
        daemon = subprocess.Popen(
            pair.server_argv(["miniupnpd", "-d", "-f", str(tmp / "miniupnpd.conf")]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            time.sleep(1.5)
            subprocess.run(
                pair.client_argv(
                    [sys.executable, "-m", "tests.probes.upnp.capture", "client", pair.server_ip, str(FIXTURES)]
                ),
                check=True,
            )
        finally:
            daemon.terminate()
            _out, err = daemon.communicate(timeout=5)
            print(err.decode()[-1500:])


if __name__ == "__main__":
    main()
