"""A STUN binding responder (RFC 5389 §7, §15.2) for the lab's "internet".

miniupnpd refuses to forward ports while its WAN address is private or reserved (every
documentation range included) unless STUN says that address is what the internet sees
(``ext_perform_stun``). The lab's router has a documentation address, so a STUN server on the lab
internet answers each binding request with the address it came from, which is then the router's own.
Standalone (stdlib only): ``python stun.py --host 203.0.113.2 --port 3478``.
"""

from __future__ import annotations

import argparse
import socket
import struct

MAGIC = 0x2112A442


def binding_response(request: bytes, addr: tuple[str, int]) -> bytes | None:
    """A success response with MAPPED-ADDRESS and XOR-MAPPED-ADDRESS, or None for anything else."""
    if len(request) < 20:
        return None
    msg_type, _length, cookie = struct.unpack_from("!HHI", request)
    if msg_type != 0x0001:
        return None
    txid = request[8:20]
    ip = socket.inet_aton(addr[0])
    port = addr[1]
    mapped = struct.pack("!HHBBH", 0x0001, 8, 0, 1, port) + ip
    xip = bytes(b ^ k for b, k in zip(ip, struct.pack("!I", MAGIC), strict=True))
    xor = struct.pack("!HHBBH", 0x0020, 8, 0, 1, port ^ (MAGIC >> 16)) + xip
    body = mapped + xor
    return struct.pack("!HHI", 0x0101, len(body), cookie) + txid + body


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=3478)
    args = ap.parse_args()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((args.host, args.port))
        while True:
            data, peer = s.recvfrom(2048)
            answer = binding_response(data, peer)
            if answer is not None:
                s.sendto(answer, peer)


if __name__ == "__main__":
    main()
