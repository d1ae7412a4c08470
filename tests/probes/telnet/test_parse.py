"""Telnet parsing on bytes captured from Debian's inetutils-telnetd (run under openbsd-inetd)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from duecare.probes.telnet.parse import DO, IAC, WILL, WONT, parse_greeting, refuse_all, split_stream

FIX = Path(__file__).parent / "fixtures"


def test_real_greeting_is_option_negotiation() -> None:
    data = (FIX / "inetutils-telnetd-greeting.bin").read_bytes()
    cmds, text = split_stream(data)
    assert (DO, 24) in cmds  # TTYPE
    assert text == b""
    facts = parse_greeting(data)
    assert facts.speaks_telnet and not facts.login_prompt
    assert "DO TTYPE" in facts.options_requested


def test_real_session_reaches_login_prompt() -> None:
    facts = parse_greeting((FIX / "inetutils-telnetd-session.bin").read_bytes())
    assert facts.login_prompt
    assert facts.banner.endswith("login:")


def test_refusal_answers_every_request() -> None:
    cmds, _ = split_stream((FIX / "inetutils-telnetd-greeting.bin").read_bytes())
    answer = refuse_all(cmds)
    assert answer.count(bytes((IAC, WONT))) == sum(1 for v, _ in cmds if v == DO)
    assert bytes((IAC, WILL)) not in answer


def test_plain_text_without_prompt_is_not_telnet() -> None:
    assert not parse_greeting(b"SSH-2.0-OpenSSH_9.2\r\n").speaks_telnet


@given(st.binary(max_size=4096))
def test_fuzz_never_raises_and_stays_bounded(data: bytes) -> None:
    facts = parse_greeting(data)
    assert len(facts.banner) <= 2048
    assert len(facts.options_requested) <= 64
