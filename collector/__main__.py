"""``python -m duecare.collector`` runs the collector's admin CLI (the same as ``duecare collector``)."""

from duecare.cli.collector import main

main()
