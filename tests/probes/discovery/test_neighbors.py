from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from duecare.probes.discovery.neighbors import parse_proc_net_arp

# Captured from a lab scanner namespace after a connect scan (Linux 6.x format).
SAMPLE = """IP address       HW type     Flags       HW address            Mask     Device
198.18.0.10      0x1         0x2         02:dc:00:00:00:0a     *        eth0
198.18.0.77      0x1         0x0         00:00:00:00:00:00     *        eth0
198.18.0.20      0x1         0x2         02:DC:00:00:00:14     *        eth0
"""


def test_complete_entries_only() -> None:
    assert parse_proc_net_arp(SAMPLE) == {"198.18.0.10": "02:dc:00:00:00:0a", "198.18.0.20": "02:dc:00:00:00:14"}


@given(st.text(max_size=2000))
def test_fuzz(text: str) -> None:
    for mac in parse_proc_net_arp(text).values():
        assert len(mac) == 17
