"""Re-record the printer fixtures from real Debian 12 daemons in a private namespace pair.

Run as root from the repo root: ``.venv/bin/python -m tests.probes.printer.capture``.
- IPP: ``cupsd`` (cups-daemon 2.4.2) on 631 with one raw queue "lab" as default printer (Debian's
  ``ippeveprinter`` refuses to start without an Avahi daemon). The client sends the probe's own
  Get-Printer-Attributes to /ipp/print (CUPS: not found), CUPS-Get-Default to /, and
  Get-Printer-Attributes to /printers/lab, storing each raw answer.
- Raw: ``p910nd`` 0.97 on 9100, printing to a file; the client sends the probe's UEL-wrapped
  ``@PJL INFO ID`` and stores whatever comes back (p910nd is one-way: nothing, a silent accept),
  and the file shows exactly what the "printer" received.
Nothing leaves the pair.
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


def _client(host: str, out: Path) -> None:
    from duecare.probes.printer.ipp import cups_get_default, get_printer_attributes
    from duecare.probes.printer.pjl import INFO_ID

    asks = {
        "cups242_gpa_ipp_print.bin": ("/ipp/print", get_printer_attributes(f"ipp://{host}:631/ipp/print")),
        "cups242_cups_get_default.bin": ("/", cups_get_default()),
        "cups242_gpa_printers_lab.bin": ("/printers/lab", get_printer_attributes(f"ipp://{host}:631/printers/lab")),
    }
    for name, (path, body) in asks.items():
        req = urllib.request.Request(f"http://{host}:631{path}", data=body, headers={"Content-Type": "application/ipp"})
        with urllib.request.urlopen(req, timeout=5) as r:
            (out / name).write_bytes(r.read())
    with socket.create_connection((host, 9100), timeout=2) as s:
        s.sendall(INFO_ID)
        s.settimeout(2.0)
        try:
            reply = s.recv(4096)
        except TimeoutError:
            reply = b""
    (out / "p910nd097_info_id_reply.bin").write_bytes(reply)
    print(f"IPP answer stored; p910nd replied {len(reply)} bytes")


CUPSD_CONF = """Listen {ip}:631
ServerAlias *
LogLevel warn
Browsing Off
DefaultAuthType None
WebInterface No
<Location />
  Order allow,deny
  Allow all
</Location>
<Policy default>
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
"""
CUPS_FILES = """ServerRoot {d}
RequestRoot {d}/spool
TempDir {d}/tmp
CacheDir {d}/cache
StateDir {d}/state
ErrorLog {d}/error_log
AccessLog {d}/access_log
PageLog {d}/page_log
FileDevice Yes
User lp
Group lp
SystemGroup root
"""
PRINTERS = """<DefaultPrinter lab>
Info Lab printer
Location Lab rack
MakeModel Duecare LabJet 9000
DeviceURI file:///dev/null
State Idle
Type 4
Accepting Yes
Shared Yes
</DefaultPrinter>
"""


def _cups_config(d: Path, ip: str) -> None:
    for sub in ("spool", "tmp", "cache", "state"):
        (d / sub).mkdir()
    (d / "cupsd.conf").write_text(CUPSD_CONF.format(ip=ip))
    (d / "cups-files.conf").write_text(CUPS_FILES.format(d=d))
    (d / "printers.conf").write_text(PRINTERS)
    # cupsd drops to "lp" and refuses root-owned-only state: open the private temp tree to it.
    for p in (d, *d.rglob("*")):
        p.chmod(0o777)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        _client(sys.argv[2], Path(sys.argv[3]))
        return
    with tempfile.TemporaryDirectory(prefix="ahp-prn-") as t, NetnsPair("ahp") as pair:
        tmp = Path(t)
        device = tmp / "lp0"
        device.touch()
        _cups_config(tmp, pair.server_ip)
        ipp = subprocess.Popen(
            pair.server_argv(["cupsd", "-f", "-c", str(tmp / "cupsd.conf"), "-s", str(tmp / "cups-files.conf")]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        Path("/var/lock/p910nd").mkdir(parents=True, exist_ok=True)  # its lock file lives there
        raw = subprocess.Popen(
            pair.server_argv(["p910nd", "-d", "-f", str(device), "0"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(2.0)
            subprocess.run(
                pair.client_argv(
                    [sys.executable, "-m", "tests.probes.printer.capture", "client", pair.server_ip, str(FIXTURES)]
                ),
                check=True,
            )
            time.sleep(0.5)
            (FIXTURES / "p910nd097_device_received.bin").write_bytes(device.read_bytes())
        finally:
            for proc in (ipp, raw):
                proc.terminate()
                proc.wait(5)


if __name__ == "__main__":
    main()
