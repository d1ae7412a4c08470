"""The duecare collector: stores signed agent reports, tracks findings, serves the MSP's pull.

Imports only ``wire`` of our packages (import-linter contract in pyproject.toml).
"""

if __name__ != "duecare.collector":  # the folders install as one namespace (duecare/__init__.py)
    raise ImportError(f"import duecare.collector, not {__name__}")
