#!/usr/bin/env bash
# The whole test suite, as CI runs it: install, lint, type-check, import rules, tests (lab included).
set -euo pipefail
# What CI runs: a facility the tests need (lab, PostgreSQL, Chromium) that is missing fails, never skips.
export CI="${CI:-true}"
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff";        ruff check . && ruff format --check .
echo "== mypy";        mypy
echo "== import rules"; lint-imports
echo "== pytest"
pytest -q -p no:cacheprovider "$@"
