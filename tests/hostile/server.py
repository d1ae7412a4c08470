"""A LAN host that misbehaves on purpose, one behaviour per port (stdlib only, test use).

21/tcp    FTP banner cut off, then a TCP reset mid-handshake
23/tcp    one byte per second, forever
80/tcp    an HTTP response with a 100 MB body, streamed as fast as the reader takes it
443/tcp   TLS with a broken certificate chain (leaf signed by a CA it does not send), then HTTP garbage
445/tcp   random garbage instead of an SMB negotiate response
3389/tcp  an X.224 Connection Confirm whose TPKT length lies (says 65535, sends 11 bytes, then stops)
5900/tcp  an RFB greeting that is not one, then garbage security types
6379/tcp  accepts and never speaks
11211/tcp 100 MB of junk
161/udp   a garbage datagram in reply to anything
1900/udp  an SSDP-looking answer with a 60 KB header line
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import ssl
import struct
from pathlib import Path

HUNDRED_MB = 100 * 1024 * 1024
CHUNK = b"x" * 65536


async def _reset_mid_banner(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    w.write(b"220-Welcome to")
    await w.drain()
    sock = w.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    w.transport.abort()


async def _trickle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    while True:
        w.write(b"\xff")
        await w.drain()
        await asyncio.sleep(1)


async def _flood(prefix: bytes, w: asyncio.StreamWriter) -> None:
    w.write(prefix)
    sent = 0
    while sent < HUNDRED_MB:
        w.write(CHUNK)
        await w.drain()
        sent += len(CHUNK)
    w.close()


async def _http_flood(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    await _flood(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % HUNDRED_MB, w)


async def _junk_flood(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    await _flood(b"", w)


async def _garbage(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    w.write(os.urandom(4096))
    await w.drain()
    await asyncio.sleep(30)
    w.close()


async def _rdp_bad_length(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    await r.read(1024)
    w.write(b"\x03\x00\xff\xff\x0e\xd0\x00\x00\x124\x00")  # TPKT claims 65535 bytes
    await w.drain()
    await asyncio.sleep(60)
    w.close()


async def _rfb_garbage(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    w.write(b"RFB 999.-01\n")
    await w.drain()
    await r.read(64)
    w.write(b"\xff" + os.urandom(255))
    await w.drain()
    await asyncio.sleep(30)
    w.close()


async def _silent(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    await asyncio.sleep(600)
    w.close()


async def _tls_http_garbage(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    await r.read(1024)
    w.write(os.urandom(2048))
    await w.drain()
    w.close()


class _UdpGarbage(asyncio.DatagramProtocol):
    def __init__(self, huge_header: bool) -> None:
        self.huge = huge_header
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        if self.huge:
            body = b"HTTP/1.1 200 OK\r\nSERVER: " + b"A" * 60000 + b"\r\nLOCATION: http://203.0.113.9/x.xml\r\n\r\n"
        else:
            body = b"\x30\x82\xff\xff" + os.urandom(200)  # BER SEQUENCE claiming 65535 bytes
        self.transport.sendto(body, addr)


def _tls_context(certs: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs / "leaf.pem", certs / "leaf.key")
    return ctx


def make_broken_chain(out: Path) -> None:
    """A leaf signed by a CA whose certificate is never sent: clients see a broken chain."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Hostile Missing CA")])
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hostile.lab.local")]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(ca_key, hashes.SHA256())
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (out / "leaf.key").write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


TCP = {
    21: _reset_mid_banner,
    23: _trickle,
    80: _http_flood,
    445: _garbage,
    3389: _rdp_bad_length,
    5900: _rfb_garbage,
    6379: _silent,
    11211: _junk_flood,
}
TLS_PORT = 443
UDP = {161: False, 1900: True}


async def serve(bind: str, certs: Path) -> None:
    servers = [await asyncio.start_server(h, bind, port) for port, h in TCP.items()]
    servers.append(await asyncio.start_server(_tls_http_garbage, bind, TLS_PORT, ssl=_tls_context(certs)))
    loop = asyncio.get_running_loop()
    for port, huge in UDP.items():
        await loop.create_datagram_endpoint(lambda h=huge: _UdpGarbage(h), local_addr=(bind, port))  # type: ignore[misc]
    print("hostile: ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", required=True)
    ap.add_argument("--certs", type=Path, required=True)
    args = ap.parse_args()
    if not (args.certs / "leaf.pem").exists():
        make_broken_chain(args.certs)
    asyncio.run(serve(args.bind, args.certs))


if __name__ == "__main__":
    main()
