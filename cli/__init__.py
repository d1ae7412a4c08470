"""Every ``duecare`` command: arguments in, the application called, output printed."""

if __name__ != "duecare.cli":  # the folders install as one namespace (duecare/__init__.py)
    raise ImportError(f"import duecare.cli, not {__name__}")
