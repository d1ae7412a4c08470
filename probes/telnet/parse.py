"""Pure Telnet parsing (RFC 854 command bytes; option names from the IANA registry)."""

from __future__ import annotations

from duecare.probes.telnet.facts import TelnetFacts

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
_VERBS = {DO: "DO", DONT: "DONT", WILL: "WILL", WONT: "WONT"}
_OPTIONS = {
    0: "BINARY",
    1: "ECHO",
    3: "SGA",
    5: "STATUS",
    24: "TTYPE",
    31: "NAWS",
    32: "TSPEED",
    33: "LFLOW",
    34: "LINEMODE",
    35: "XDISPLOC",
    36: "ENVIRON",
    37: "AUTHENTICATION",
    38: "ENCRYPT",
    39: "NEW-ENVIRON",
}
_PROMPTS = (b"login:", b"username:", b"user name:", b"password:")


def split_stream(data: bytes) -> tuple[list[tuple[int, int]], bytes]:
    """Separate IAC commands from text. Returns ((verb, option) pairs, text bytes)."""
    cmds: list[tuple[int, int]] = []
    text = bytearray()
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b != IAC:
            text.append(b)
            i += 1
            continue
        if i + 1 >= n:
            break
        verb = data[i + 1]
        if verb in _VERBS:
            if i + 2 >= n:
                break
            cmds.append((verb, data[i + 2]))
            i += 3
        elif verb == SB:
            end = data.find(bytes((IAC, SE)), i + 2)
            i = n if end < 0 else end + 2
        elif verb == IAC:
            text.append(IAC)
            i += 2
        else:
            i += 2
    return cmds, bytes(text)


def refuse_all(cmds: list[tuple[int, int]]) -> bytes:
    """The polite answer that keeps a session minimal: WONT to every DO, DONT to every WILL."""
    out = bytearray()
    for verb, opt in cmds:
        if verb == DO:
            out += bytes((IAC, WONT, opt))
        elif verb == WILL:
            out += bytes((IAC, DONT, opt))
    return bytes(out)


def parse_greeting(data: bytes) -> TelnetFacts:
    cmds, text = split_stream(data)
    options = tuple(f"{_VERBS[v]} {_OPTIONS.get(o, str(o))}" for v, o in cmds)
    lowered = text.lower()
    prompt = any(p in lowered for p in _PROMPTS)
    banner = text.decode("utf-8", "replace").replace("\x00", "").strip()
    return TelnetFacts(
        speaks_telnet=bool(cmds) or prompt,
        options_requested=options[:64],
        banner=banner[:2048],
        login_prompt=prompt,
    )
