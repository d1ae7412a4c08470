"""Shared fixtures: the namespace lab (session-scoped; fails instead of skipping in CI) and the
hypothesis profiles: ``ci`` (thorough, the default under CI) and ``dev`` (quick), chosen by
``HYPOTHESIS_PROFILE``."""

import os

from hypothesis import settings

from tests.env import in_ci

pytest_plugins = ["tests.lab.fixtures"]

settings.register_profile("ci", max_examples=400, deadline=None, print_blob=True)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if in_ci() else "dev"))
