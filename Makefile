# Everyday targets. `make test` is exactly what CI runs (bash .ci/run); it needs root (apt, netns).
PY ?= .venv/bin/python
export PATH := $(CURDIR)/.venv/bin:$(PATH)

.PHONY: install lint format test-fast test bench demo wheel

install:            ## the virtualenv with every extra (root also gets the lab's Debian packages)
	bash scripts/install.sh

lint:               ## ruff (lint + format check), mypy --strict, import rules
	ruff check .
	ruff format --check .
	mypy
	lint-imports

format:
	ruff format .
	ruff check --fix .

test-fast:          ## no root, no lab, no databases beyond SQLite: the pure and in-process tests
	HYPOTHESIS_PROFILE=dev pytest -q -p no:cacheprovider -n 2 -m "not lab and not slow"

test:               ## what CI runs: install, lint, every test (lab included)
	bash scripts/test.sh

bench:              ## benchmarks side by side with nmap (root; ~30 min)
	$(PY) -m bench.compare_nmap --rounds 3
	$(PY) -m bench.scale --rounds 3
	$(PY) -m bench.fuzz_all
	$(PY) bench/collector_bench.py

demo:
	bash scripts/demo.sh

wheel:              ## the wheel and sdist the README installs from (dist/)
	$(PY) -m build --outdir dist .
