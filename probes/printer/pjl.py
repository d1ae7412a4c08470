"""Pure PJL: the one read-only question (HP PJL Technical Reference Manual, INFO ID) and its answer."""

from __future__ import annotations

from duecare.probes.errors import ProtocolError

#: Universal Exit Language: puts the printer in PJL mode and back out, so nothing is printed.
UEL = b"\x1b%-12345X"
INFO_ID = UEL + b"@PJL INFO ID\r\n" + UEL
FORM_FEED = b"\x0c"
MAX_REPLY = 4096


def parse_info_id(data: bytes) -> str:
    """The product string from an ``@PJL INFO ID`` answer (echo line, quoted id, form feed)."""
    if len(data) > MAX_REPLY:
        raise ProtocolError("PJL answer longer than 4 KiB")
    text = data.replace(UEL, b"").decode("latin-1")
    start = text.upper().find("@PJL INFO ID")
    if start < 0:
        raise ProtocolError("raw port answered, but not with PJL")
    lines = [ln.strip() for ln in text[start:].replace("\x0c", "\n").splitlines()[1:]]
    product = next((ln for ln in lines if ln), "")
    product = product.strip('"').strip()
    if not product or not product.isprintable():
        raise ProtocolError("PJL INFO ID answer carries no printable product id")
    return product[:256]
