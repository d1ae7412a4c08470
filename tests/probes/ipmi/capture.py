"""Re-record the IPMI fixtures from OpenIPMI's ``ipmi_sim`` (Debian 12 package openipmi 2.0.33).

Run as root from the repo root: ``.venv/bin/python -m tests.probes.ipmi.capture``. The BMC
simulator runs in a private namespace with the users of OpenIPMI's sample lan.conf (user 1 is the
anonymous user, enabled); the client namespace sends the probe's own datagrams and stores the
answers. Nothing leaves the pair.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.probes.netns_pair import NetnsPair

FIXTURES = Path(__file__).parent / "fixtures"

LAN_CONF = """name "ahpbmc"
set_working_mc 0x20
  startlan 1
    addr {ip} 623
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  user 1 true  ""        "{anon_password}" user     10       none md2 md5 straight
  user 2 true  "ipmiusr" "test" admin    10       none md2 md5 straight
"""
EMU = "mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\nmc_enable 0x20\n"


#: fixture prefix -> password of user 1 (the null user): "" makes it a true anonymous login.
VARIANTS = {"ipmisim": "test", "ipmisim_anon": ""}


def _client(host: str, out: Path, prefix: str) -> None:
    from duecare.probes.ipmi.parse import auth_capabilities_request, presence_ping

    asks = {
        f"{prefix}_auth_caps_v2.bin": auth_capabilities_request(ask_v2=True),
        f"{prefix}_auth_caps_v15.bin": auth_capabilities_request(ask_v2=False, seq=1),
        f"{prefix}_presence_pong.bin": presence_ping(),
    }
    for name, payload in asks.items():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(2.0)
            s.sendto(payload, (host, 623))
            try:
                data, _ = s.recvfrom(4096)
            except TimeoutError:
                print(f"{name}: no answer")
                continue
            (out / name).write_bytes(data)
            print(f"{name}: {data.hex()}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        _client(sys.argv[2], Path(sys.argv[3]), sys.argv[4])
        return
    for prefix, password in VARIANTS.items():
        _capture(prefix, password)


def _capture(prefix: str, anon_password: str) -> None:
    with tempfile.TemporaryDirectory(prefix="ahp-ipmi-") as t, NetnsPair("ahp") as pair:
        tmp = Path(t)
        (tmp / "lan.conf").write_text(LAN_CONF.format(ip=pair.server_ip, anon_password=anon_password))
        (tmp / "bmc.emu").write_text(EMU)
        (tmp / "state").mkdir()
        # ipmi_sim exits when its console's stdin closes; a pipe we hold keeps it alive.
        sim = subprocess.Popen(
            pair.server_argv(["ipmi_sim", "-c", "lan.conf", "-f", "bmc.emu", "-s", "state"]),
            cwd=tmp,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
        )
        try:
            time.sleep(1.5)
            subprocess.run(
                pair.client_argv(
                    [
                        sys.executable,
                        "-m",
                        "tests.probes.ipmi.capture",
                        "client",
                        pair.server_ip,
                        str(FIXTURES),
                        prefix,
                    ]
                ),
                check=True,
            )
        finally:
            sim.terminate()
            sim.wait(5)


if __name__ == "__main__":
    main()
