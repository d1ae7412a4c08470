"""Namespace lab: an isolated "office LAN" of real Debian daemons for integration tests and the demo.

    from tests.lab import Lab
    with Lab(prefix="dclab") as lab:
        subprocess.run(lab.exec_argv(["nmap", "-sS", lab.subnet]))

CLI: ``python -m tests.lab up|down|status [--prefix P]``. See README.md in this folder.
"""

from tests.lab.availability import lab_available
from tests.lab.hosts import Host, default_hosts
from tests.lab.lab import Lab, LabError

__all__ = ["Host", "Lab", "LabError", "default_hosts", "lab_available"]
