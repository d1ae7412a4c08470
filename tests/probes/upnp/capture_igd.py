"""Re-record the IGD SOAP and NAT-PMP fixtures from miniupnpd 2.3.1 (Debian 12, nftables build).

Run as root from the repo root: ``.venv/bin/python -m tests.probes.upnp.capture_igd``. miniupnpd runs
in a private namespace with a veth pair inside it as the WAN (198.51.100.7); the client namespace
adds two mappings for itself with ``upnpc`` (miniupnpc 2.2.4, the lab's way of creating them), then
sends the probe's own read-only SOAP requests and one NAT-PMP external-address request, storing
every answer. Nothing leaves the pair.
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
STUN = Path(__file__).resolve().parents[3] / "lab" / "stun.py"
#: The chains miniupnpd expects, in the inet and the ip family alike.
_NFT_TABLE = """table {family} filter {{
  chain forward {{
    type filter hook forward priority 0; policy accept;
    jump miniupnpd
  }}
  chain miniupnpd {{
  }}
  chain prerouting {{
    type nat hook prerouting priority -100; policy accept;
    jump prerouting_miniupnpd
  }}
  chain prerouting_miniupnpd {{
  }}
  chain postrouting {{
    type nat hook postrouting priority 100; policy accept;
    jump postrouting_miniupnpd
  }}
  chain postrouting_miniupnpd {{
  }}
}}
"""
NFT = "".join(_NFT_TABLE.format(family=f) for f in ("inet", "ip"))
CONF = """ext_ifname=igdwan0
ext_perform_stun=yes
ext_stun_host=198.51.100.9
listening_ip={lan_if}
port=5000
enable_natpmp=yes
enable_upnp=yes
secure_mode=yes
system_uptime=yes
uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b
friendly_name=duecare lab router
model_number=2.3.1-lab
serial=00000000
upnp_table_name=filter
upnp_nat_table_name=filter
upnp_forward_chain=miniupnpd
upnp_nat_chain=prerouting_miniupnpd
upnp_nat_postrouting_chain=postrouting_miniupnpd
allow 1024-65535 198.19.77.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
"""


def _client(host: str, out: Path) -> None:
    from duecare.probes.natpmp.parse import external_address_request
    from duecare.probes.upnp.igd import external_ip_request, mapping_request

    desc = f"http://{host}:5000/rootDesc.xml"
    for ext, internal, proto in (("5900", "5900", "TCP"), ("3478", "3478", "UDP")):
        subprocess.run(["upnpc", "-u", desc, "-e", "lab client", "-a", "198.19.77.2", internal, ext, proto], check=True)
    control = f"http://{host}:5000/ctl/IPConn"
    stype = "urn:schemas-upnp-org:service:WANIPConnection:2"
    requests = [("external_ip", external_ip_request(stype))] + [
        (f"mapping_{i}", mapping_request(stype, i)) for i in range(3)
    ]
    for name, (headers, body) in requests:
        req = urllib.request.Request(control, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=3) as r:
                data = r.read()
        except urllib.error.HTTPError as err:  # faults are HTTP 500 with a SOAP body
            data = err.read()
        (out / f"miniupnpd231_igd_{name}.xml").write_bytes(data)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2.0)
        s.sendto(external_address_request(), (host, 5351))
        data, _ = s.recvfrom(1100)
        (out.parent.parent / "natpmp" / "fixtures" / "miniupnpd231_natpmp_external.bin").write_bytes(data)
    print(f"recorded {len(requests)} SOAP answers and one NAT-PMP answer from {host}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        _client(sys.argv[2], Path(sys.argv[3]))
        return
    with tempfile.TemporaryDirectory(prefix="igd-cap-") as t, NetnsPair("igdc") as pair:
        tmp = Path(t)
        for cmd in (
            ["ip", "link", "add", "igdwan0", "type", "veth", "peer", "name", "igdwan1"],
            ["ip", "addr", "add", "198.51.100.7/24", "dev", "igdwan0"],
            ["ip", "link", "set", "igdwan0", "up"],
            ["ip", "link", "set", "igdwan1", "up"],
            ["ip", "addr", "add", "198.51.100.9/24", "dev", "igdwan1"],
            ["ip", "route", "add", "239.0.0.0/8", "dev", "igdcs0"],
        ):
            subprocess.run(pair.server_argv(cmd), check=True)
        subprocess.run(pair.server_argv(["nft", "-f", "-"]), input=NFT.encode(), check=True)
        (tmp / "miniupnpd.conf").write_text(CONF.format(lan_if="igdcs0"))
        stun = subprocess.Popen(
            pair.server_argv([sys.executable, str(STUN), "--host", "198.51.100.9"]), stdout=subprocess.DEVNULL
        )
        daemon = subprocess.Popen(
            pair.server_argv(["miniupnpd", "-d", "-f", str(tmp / "miniupnpd.conf"), "-P", str(tmp / "pid")]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            time.sleep(4.0)  # STUN (four binding exchanges) runs before miniupnpd listens
            subprocess.run(
                pair.client_argv(
                    [sys.executable, "-m", "tests.probes.upnp.capture_igd", "client", pair.server_ip, str(FIXTURES)]
                ),
                check=True,
            )
        finally:
            stun.terminate()
            daemon.terminate()
            try:
                _out, err = daemon.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                daemon.kill()
                _out, err = daemon.communicate()
            print(err.decode()[-1500:])


if __name__ == "__main__":
    main()
