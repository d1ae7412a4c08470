"""The duecare collector: stores signed agent reports, tracks findings, serves the MSP's pull.

Imports only ``wire`` of our packages (import-linter contract in pyproject.toml).
"""
