"""Shared fixtures: the namespace lab (session-scoped; fails instead of skipping in CI)."""

pytest_plugins = ["tests.lab.fixtures"]
