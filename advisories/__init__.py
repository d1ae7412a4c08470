"""Advisories, exposures, frameworks and profiles: pure judgement over probe facts (no network)."""

if __name__ != "duecare.advisories":  # the folders install as one namespace (duecare/__init__.py)
    raise ImportError(f"import duecare.advisories, not {__name__}")
