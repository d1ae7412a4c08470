#!/usr/bin/env bash
# Installs everything duecare, its lab and its tests need on a fresh Debian/Ubuntu machine (as root).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (it installs Debian packages and builds network namespaces)" >&2
  exit 2
fi

# Package installs must not start the lab's daemons in this (root) namespace.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
fi

mapfile -t pkgs < <(grep -hv '^\s*#' lab/packages.txt scripts/packages-extra.txt | awk 'NF {print $1}' | sort -u)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install.sh: apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# pip's output (setuptools' multi-line warnings included) goes to a log shown only when a step fails:
# the demo's and the tests' output stays theirs, and a failure is never swallowed.
LOG=$(mktemp /tmp/duecare-install.XXXXXX.log)
step() {
  if ! "$@" >"$LOG" 2>&1; then
    cat "$LOG" >&2
    echo "install.sh: failed (exit status above): $*" >&2
    exit 1
  fi
}
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  step "$PY" -m venv .venv
fi
step .venv/bin/python -m pip install --upgrade pip
step .venv/bin/python -m pip install -e '.[dev,pdf]'
step .venv/bin/python -c "import duecare.agent, duecare.collector, duecare.probes, duecare.advisories, duecare.wire, duecare.report, duecare.cli"
rm -f "$LOG"
echo "install.sh: ready (.venv)"
