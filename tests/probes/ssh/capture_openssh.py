"""Record what OpenSSH sends a client up to its ECDH reply, for the parser tests.

Run inside a lab's scanner namespace, against the lab's ``ssh`` host (OpenSSH 9.2, Debian 12):
``ip netns exec <prefix>-scan .venv/bin/python -m tests.probes.ssh.capture_openssh 198.18.0.100 OUT``.
It speaks exactly the probe's conversation (parse.py's builders) over a blocking socket, once per
key exchange (curve25519-sha256, then ecdh-sha2-nistp256), writes every byte the server sent to
``OUT/openssh92_<kex>.bin``, and prints ``ssh-keyscan | ssh-keygen -lf -`` for the same host, the
fingerprint the tests must reproduce.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from duecare.probes.ssh.parse import (
    CLIENT_IDENT,
    OUR_HOST_KEYS,
    build_kexinit,
    build_packet,
    disconnect,
    ecdh_init,
    split_identification,
    split_packet,
)
from duecare.probes.ssh.probe import client_public


def _read_until(sock: socket.socket, buf: bytearray, done: object) -> None:
    while not done():  # type: ignore[operator]
        chunk = sock.recv(65536)
        if not chunk:
            return
        buf += chunk


def record(host: str, kex: str) -> bytes:
    got = bytearray()
    with socket.create_connection((host, 22), timeout=5) as sock:
        sock.sendall(CLIENT_IDENT + b"\r\n")
        _read_until(sock, got, lambda: _packets(got) >= 1)
        ours = build_kexinit(os.urandom(16), (kex,), OUR_HOST_KEYS)
        sock.sendall(build_packet(ours, os.urandom) + build_packet(ecdh_init(client_public(kex)), os.urandom))
        _read_until(sock, got, lambda: _packets(got) >= 2)
        sock.sendall(build_packet(disconnect(), os.urandom))
    return bytes(got)


def _packets(data: bytearray) -> int:
    split = split_identification(bytes(data))
    if split is None:
        return 0
    rest, n = split[1], 0
    while (p := split_packet(rest)) is not None:
        rest, n = p[1], n + 1
    return n


def main() -> None:
    host, out = sys.argv[1], Path(sys.argv[2])
    for kex in ("curve25519-sha256", "ecdh-sha2-nistp256"):
        (out / f"openssh92_{kex}.bin").write_bytes(record(host, kex))
    scan = subprocess.run(["ssh-keyscan", "-t", "ed25519", host], capture_output=True, text=True, check=True)
    print(subprocess.run(["ssh-keygen", "-lf", "-"], input=scan.stdout, capture_output=True, text=True).stdout)


if __name__ == "__main__":
    main()
