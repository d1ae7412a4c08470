"""``python -m collector`` runs the admin CLI."""

from collector.cli import app

app(prog_name="collector")
