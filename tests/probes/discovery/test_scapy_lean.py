"""scapy loaded lean (issue 19): no OUI table, no cryptography, and cryptography still works after."""

from __future__ import annotations

import json
import subprocess
import sys

CODE = """
import json, sys
from duecare.probes.discovery._scapy import attached_groups
groups, routed = attached_groups(["127.0.0.1"])
from scapy.config import conf
from scapy.data import MANUFDB
before = "cryptography" in sys.modules
from cryptography import x509  # duecare's own import is unaffected
print(json.dumps({"routed": routed, "oui": len(MANUFDB.d), "crypto_valid": conf.crypto_valid,
                  "crypto_before": before, "x509": x509.__name__}))
"""


def test_scapy_loads_without_its_oui_table_or_cryptography() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60, check=True)
    got = json.loads(out.stdout)
    assert got == {
        "routed": ["127.0.0.1"],  # loopback is never ARP-swept
        "oui": 0,
        "crypto_valid": False,
        "crypto_before": False,
        "x509": "cryptography.x509",
    }
