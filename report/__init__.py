"""The due-diligence report (HTML/PDF, baseline exhibit) and the one client of the read API."""

if __name__ != "duecare.report":  # the folders install as one namespace (duecare/__init__.py)
    raise ImportError(f"import duecare.report, not {__name__}")
