"""duecare: a network exposure auditor that makes a cybersecurity standard of care measurable.

The repository keeps the top-level folders of the client's design card (``agent/``, ``probes/``,
``advisories/``, ``wire/``, ``collector/``, ``report/``, ``cli/``, ``lab/``); this package links them
under one import namespace, so an installed duecare adds only ``duecare`` to site-packages.
"""
