"""duecare: a network exposure auditor that makes a cybersecurity standard of care measurable.

The repository keeps the top-level folders of the client's design card (``agent/``, ``probes/``,
``advisories/``, ``wire/``, ``collector/``, ``report/``, ``cli/``, ``lab/``); this package links them
under one import namespace, so an installed duecare adds only ``duecare`` to site-packages.
"""

import sys as _sys

# httpx imports its own command-line client at import (rich.syntax, pygments, click: ~0.1 s and
# ~5 MB in every duecare process). A None entry makes that one optional import fail, and httpx
# then defines a stub `httpx.main` instead; nothing of duecare uses httpx's command line.
_sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
