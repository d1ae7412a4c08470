"""A scripted TCP peer on 127.0.0.1 for SMB client tests: replay captured replies, go silent,
close, or reset — the behaviours a real server or a tarpit shows, on demand."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: Given the request bytes, return the reply to send, or one of the actions below.
Responder = Callable[[bytes], "bytes | str"]
CLOSE, RESET, SILENT = "close", "reset", "silent"


def _read_request(conn: socket.socket) -> bytes:
    header = b""
    while len(header) < 4:
        chunk = conn.recv(4 - len(header))
        if not chunk:
            return b""
        header += chunk
    length = int.from_bytes(header[1:], "big")
    body = b""
    while len(body) < length:
        chunk = conn.recv(length - len(body))
        if not chunk:
            break
        body += chunk
    return header + body


def _serve_one(conn: socket.socket, respond: Responder, stop: threading.Event) -> None:
    """Answer requests on one connection until the client hangs up or goes quiet for 0.5 s."""
    with conn:
        conn.settimeout(5)
        while not stop.is_set():
            try:
                request = _read_request(conn)
            except OSError:
                return
            if not request:
                return
            action = respond(request)
            if action == RESET:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            if action == SILENT:
                stop.wait(10)
                return
            if not isinstance(action, bytes):
                return  # CLOSE
            conn.sendall(action)
            conn.settimeout(0.5)  # a follow-up request on the same connection, or we close


class Seen(list[bytes]):
    """Requests in arrival order, and how many connections carried them."""

    connections: int = 0


@contextmanager
def scripted_peer(respond: Responder) -> Iterator[tuple[int, Seen]]:
    """Yield (port, requests seen); every request on every connection gets ``respond(request)``."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    stop = threading.Event()
    seen = Seen()

    def record(request: bytes) -> bytes | str:
        seen.append(request)
        return respond(request)

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            seen.connections += 1
            threading.Thread(target=_serve_one, args=(conn, record, stop), daemon=True).start()

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], seen
    finally:
        stop.set()
        thread.join(2)
        listener.close()


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port
