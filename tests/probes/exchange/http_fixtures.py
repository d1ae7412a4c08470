"""Read the recorded HTTP answers in fixtures/ (status line optional, LF or CRLF line ends)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass(frozen=True)
class Recorded:
    status: int | None
    headers: list[tuple[str, str]]
    body: bytes


def load(name: str) -> Recorded:
    raw = (FIXTURES / name).read_bytes()
    sep = b"\r\n\r\n" if b"\r\n\r\n" in raw else b"\n\n"
    head, _, body = raw.partition(sep)
    lines = head.replace(b"\r\n", b"\n").decode("latin-1").split("\n")
    status = None
    if lines and lines[0].startswith("HTTP/"):
        status = int(lines.pop(0).split()[1])
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines if line)]
    return Recorded(status, headers, body)


def body_of(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()
