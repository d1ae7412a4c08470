"""The agent: config, scope, scan orchestration, report assembly, outbox, delivery, daemon."""

if __name__ != "duecare.agent":  # the folders install as one namespace (duecare/__init__.py)
    raise ImportError(f"import duecare.agent, not {__name__}")
