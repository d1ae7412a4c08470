"""Shared fixtures: the namespace lab (session-scoped; fails instead of skipping in CI) and the
hypothesis profiles: ``ci`` (thorough, the default under CI) and ``dev`` (quick), chosen by
``HYPOTHESIS_PROFILE``."""

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from tests.env import in_ci

pytest_plugins = ["tests.lab.fixtures"]

settings.register_profile("ci", max_examples=400, deadline=None, print_blob=True)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if in_ci() else "dev"))


@pytest.fixture(autouse=True)
def _umask_restored() -> Iterator[None]:
    """A command run in-process (``CliRunner``) may set the process umask (the collector's admin CLI
    makes everything owner-only): it must not leak into the next test's files."""
    before = os.umask(0o022)
    os.umask(before)
    yield
    os.umask(before)
