"""Namespace lab: an isolated "office LAN" of real Debian daemons for integration tests and the demo.

    from duecare.lab import Lab
    with Lab(prefix="dclab") as lab:
        subprocess.run(lab.exec_argv(["nmap", "-sS", lab.subnet]))

CLI: ``python -m duecare.lab up|down|status [--prefix P]``. See README.md in this folder.
"""

if __name__ != "duecare.lab":  # the folders install as one namespace (duecare/__init__.py)
    raise ImportError(f"import duecare.lab, not {__name__}")


from duecare.lab.availability import lab_available
from duecare.lab.hosts import Host, default_hosts
from duecare.lab.lab import Lab, LabError

__all__ = ["Host", "Lab", "LabError", "default_hosts", "lab_available"]
