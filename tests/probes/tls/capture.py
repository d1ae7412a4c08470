"""Re-record the TLS fixtures from a real nginx (Debian 12, nginx 1.22.1, OpenSSL 3.0).

Run as root from the repo root: ``.venv/bin/python -m tests.probes.tls.capture``. It builds a
private namespace pair, starts nginx in one with three listeners (443: expired RSA-2048 cert and
TLS 1.0-1.3 enabled; 8443: modern P-256 cert, TLS 1.2/1.3 only; 9443: RSA-1024 cert), runs one
handshake per version from the other namespace, and writes the server bytes, the certificates and
a manifest into fixtures/. Nothing leaves the pair.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from ipaddress import ip_address
from pathlib import Path

from tests.probes.netns_pair import NetnsPair
from tests.probes.tls.certs import lab_certificates

FIXTURES = Path(__file__).parent / "fixtures"
LISTENERS = {
    443: ("expired", "TLSv1 TLSv1.1 TLSv1.2 TLSv1.3"),
    8443: ("modern", "TLSv1.2 TLSv1.3"),
    9443: ("weak", "TLSv1.2"),
}

NGINX_CONF = """
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fcgi;
  uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
{servers}
}}
"""
SERVER = """  server {{
    listen {port} ssl;
    ssl_certificate {crt}; ssl_certificate_key {key};
    ssl_protocols {protocols};
    ssl_ciphers "DEFAULT:@SECLEVEL=0";
    location / {{ return 200 "ok\\n"; }}
  }}"""


def nginx_config(tmp: Path, certs: dict[str, tuple[Path, Path]]) -> str:
    servers = "\n".join(
        SERVER.format(port=port, crt=certs[name][0], key=certs[name][1], protocols=protocols)
        for port, (name, protocols) in LISTENERS.items()
    )
    return NGINX_CONF.format(tmp=tmp, servers=servers)


async def _client(host: str, out: Path) -> None:
    from duecare.probes.base import Target
    from duecare.probes.context import ProbeContext
    from duecare.probes.tls.probe import ORDER, handshake, local_limitation
    from duecare.wire import Proto

    ctx = ProbeContext()
    manifest = []
    for port, (name, _protocols) in LISTENERS.items():
        target = Target(ip_address(host), port, Proto.TCP)
        for version in ORDER:
            if local_limitation(version):
                continue
            attempt, der = await handshake(target, ctx, version)
            stem = f"nginx1221_{name}_{version.value.replace('.', '').lower()}_{attempt.outcome.value}"
            (out / f"{stem}.bin").write_bytes(attempt.server_bytes)
            if der:
                (out / f"nginx1221_{name}_cert.der").write_bytes(der)
            manifest.append(
                {
                    "port": port,
                    "listener": name,
                    "version": version.value,
                    "outcome": attempt.outcome.value,
                    "cipher": attempt.cipher,
                    "error": attempt.error,
                    "file": f"{stem}.bin",
                }
            )
    (out / "nginx1221_manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    await ctx.aclose()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        asyncio.run(_client(sys.argv[2], Path(sys.argv[3])))
        return
    with tempfile.TemporaryDirectory(prefix="ahp-nginx-") as t, NetnsPair("ahp") as pair:
        tmp = Path(t)
        conf = tmp / "nginx.conf"
        conf.write_text(nginx_config(tmp, lab_certificates(tmp)))
        nginx = subprocess.Popen(pair.server_argv(["nginx", "-c", str(conf)]))
        try:
            time.sleep(1.0)
            subprocess.run(
                pair.client_argv(
                    [
                        sys.executable,
                        "-m",
                        "tests.probes.tls.capture",
                        "client",
                        pair.server_ip,
                        str(FIXTURES),
                    ]
                ),
                check=True,
            )
        finally:
            nginx.terminate()
            nginx.wait(5)


if __name__ == "__main__":
    main()
