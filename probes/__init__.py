"""Probes: one package per protocol; they collect facts and never judge them."""

if __name__ != "duecare.probes":  # the folders install as one namespace (duecare/__init__.py)
    raise ImportError(f"import duecare.probes, not {__name__}")
