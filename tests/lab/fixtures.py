"""pytest fixtures for the namespace lab.

Registered for the whole suite by ``pytest_plugins = ["tests.lab.fixtures"]`` in ``tests/conftest.py``.

The ``lab`` fixture is session-scoped: one lab per test session, with a prefix from
``DUECARE_LAB_PREFIX`` or ``dclab<pid>`` so two sessions (two engineers, two CI jobs) never share
namespaces. Without root/iproute2/daemons it skips, except in CI (``CI=true``) where a missing lab is
a failure: integration tests must not silently disappear.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from duecare.lab.availability import lab_available
from duecare.lab.lab import Lab
from tests.env import require

# A test module may also import the fixture by name (ruff sees the use); the stash makes every
# registration share one lab instead of building two with the same prefix.
_LAB = pytest.StashKey[Lab]()


def lab_prefix() -> str:
    return os.environ.get("DUECARE_LAB_PREFIX") or f"dclab{os.getpid() % 100000}"


def require_lab() -> None:
    """Skip the calling test (fail it in CI) when the lab cannot be built here."""
    ok, why = lab_available()
    require(ok, f"namespace lab unavailable: {why}")


@pytest.fixture(scope="session")
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    stash = request.config.stash
    if _LAB in stash:
        yield stash[_LAB]
        return
    require_lab()
    instance = Lab(prefix=lab_prefix()).up()
    stash[_LAB] = instance
    try:
        yield instance
    finally:
        del stash[_LAB]
        instance.down()
