"""What the test run may assume about this machine: one place decides whether a missing facility
(the lab, PostgreSQL, Chromium, systemd-analyze) is a skip (a laptop) or a failure (CI)."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require(ok: bool, why: str) -> None:
    """Skip the calling test when ``ok`` is false — fail it in CI, where nothing may silently vanish."""
    if ok:
        return
    if in_ci():
        pytest.fail(why, pytrace=False)
    pytest.skip(why)
