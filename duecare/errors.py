"""The root of every error duecare raises on purpose.

::

    DuecareError
    ├── ProbeError            (duecare.probes.errors: one probe attempt failed, with a status)
    ├── CatalogError          (duecare.advisories.errors: a data file is invalid; names file and key)
    ├── AgentError            (duecare.agent.errors: config, scope, state, enrollment, delivery, outbox)
    ├── ReportError           (duecare.report.errors: rendering, baseline, collector reads)
    └── CollectorError        (duecare.collector.errors: admin and service errors)

Each family translates foreign exceptions once, at its adapter; the CLI turns any ``DuecareError``
into one clear line and exit code 2 (usage, configuration, bad input) or 1 (the environment).
"""

from __future__ import annotations


class DuecareError(Exception):
    """Something duecare can explain in one line; ``str(exc)`` is that line."""
