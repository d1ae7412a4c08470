"""The README's reverse-proxy layout: its nginx block, as written, in front of a collector that
listens where `scripts/install-collector.sh` without TLS puts it (127.0.0.1:8080), on the port agents
use (8443). Only the certificate paths change. Runs in a namespace with nothing but a loopback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from duecare.lab import netns
from duecare.lab.certs import self_signed
from tests.install.test_readme_service import readme_blocks
from tests.lab.fixtures import require_lab

pytestmark = pytest.mark.lab

CLIENT = r"""
import http.client, json, socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
def call(method, path, body=None):
    conn = http.client.HTTPSConnection("127.0.0.1", 8443, context=ctx, timeout=5)
    # Connect to 127.0.0.1, check the certificate for the name agents use (no resolver in the namespace).
    raw = socket.create_connection(("127.0.0.1", 8443), 5)
    conn.sock = ctx.wrap_socket(raw, server_hostname="collector.msp.example")
    conn.request(method, path, body=body, headers={"Host": "collector.msp.example", "Content-Type": "application/json"})
    r = conn.getresponse()
    return r.status, json.loads(r.read() or b"null")
print(json.dumps([call("GET", "/healthz"),
                  call("POST", "/v1/enroll", json.dumps({"token": "dce_" + "x" * 40, "public_key": "A" * 43 + "="}))]))
"""


@pytest.fixture
def loopback_ns() -> Iterator[str]:
    require_lab()
    name = f"dcpx{os.getpid() % 100000}"
    netns.delete(name)
    netns.add(name)
    try:
        yield name
    finally:
        for pid in netns.pids(name):  # only what this test started in its own namespace
            os.kill(pid, 9)
        netns.delete(name)


def test_nginx_block_proxies_8443_to_the_collector(loopback_ns: str, tmp_path: Path) -> None:
    block = readme_blocks("nginx")["proxy"]
    assert "listen 8443 ssl;" in block and "proxy_pass http://127.0.0.1:8080;" in block
    tls = self_signed(tmp_path / "tls", "collector.msp.example", dns_names=("collector.msp.example",))
    server = block.replace("/etc/ssl/msp/collector.crt", str(tls.cert)).replace(
        "/etc/ssl/msp/collector.key", str(tls.key)
    )
    assert server != block
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\naccess_log off;\nclient_body_temp_path {tmp_path};\nproxy_temp_path {tmp_path};\n{server}}}\n"
    )
    ns = ["ip", "netns", "exec", loopback_ns]
    db = f"sqlite:///{tmp_path / 'collector.db'}"
    # the install script runs `collector init`; `serve` refuses a database that was never created
    subprocess.run([sys.executable, "-m", "duecare.collector", "init", "--db", db], check=True, capture_output=True)
    with (tmp_path / "collector.log").open("w") as log:
        collector = subprocess.Popen(
            [*ns, sys.executable, "-m", "duecare.collector", "serve", "--db", db, "--log-level", "warning"],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        checked = subprocess.run([*ns, "nginx", "-t", "-c", str(conf)], capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, checked.stderr
        started = subprocess.run([*ns, "nginx", "-c", str(conf)], capture_output=True, text=True, timeout=30)
        assert started.returncode == 0, started.stderr
        answers = None
        for _ in range(100):
            got = subprocess.run([*ns, sys.executable, "-c", CLIENT, str(tls.cert)], capture_output=True, text=True)
            if got.returncode == 0:
                answers = got.stdout
                break
            time.sleep(0.2)
        assert answers is not None, (tmp_path / "collector.log").read_text() + (tmp_path / "error.log").read_text()
        (health, ok), (enroll, refused) = json.loads(answers)
        assert (health, ok) == (200, {"status": "ok"})
        # The POST reached the collector through the proxy, which answered as itself: an unknown token.
        assert enroll == 401 and re.search("token", refused["detail"]), refused
    finally:
        collector.terminate()
        collector.wait(timeout=10)
