#!/usr/bin/env bash
# Installs the duecare agent as a systemd service (as root), the README's "Install as a service" steps:
#   user `duecare`; /etc/duecare (0755) with agent.toml (0640 root:duecare); /var/lib/duecare (0700 duecare);
#   the unit; and, given a collector and a token, the enrollment (run as `duecare`, token passed on stdin).
# Safe to run again: it never overwrites an edited agent.toml and never enrolls twice.
#
#   scripts/install-agent.sh [--scope TARGETS] [--collector URL --token-file FILE|-]
#     --scope       comma-separated IPs, CIDRs or ranges this box may scan (written to a new agent.toml,
#                   or to one whose [scope] targets is still empty)
#     --collector   the collector's URL, and --token-file the enrollment token the MSP gave you
set -euo pipefail
. "$(dirname "$0")/service-common.sh"

SCOPE="" COLLECTOR="" TOKEN_FILE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --scope) SCOPE=${2:?--scope needs TARGETS}; shift 2 ;;
    --collector) COLLECTOR=${2:?--collector needs a URL}; shift 2 ;;
    --token-file) TOKEN_FILE=${2:?--token-file needs a file or -}; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
if [ -n "$COLLECTOR" ] && [ -z "$TOKEN_FILE" ]; then die "--collector needs --token-file"; fi
if [ -n "$TOKEN_FILE" ] && [ -z "$COLLECTOR" ]; then die "--token-file needs --collector"; fi

require_root
require_duecare
command -v nmap >/dev/null || die "nmap is missing: apt-get install nmap (duecare drives it for discovery and ports)"

ensure_user duecare /var/lib/duecare duecare-agent.sysusers.conf
install -d -m 0755 -o root -g root /etc/duecare
install -d -m 0700 -o duecare -g duecare /var/lib/duecare

CONFIG=/etc/duecare/agent.toml
if [ ! -e "$CONFIG" ]; then
  install -m 0640 -o root -g duecare "$SRC/config.example.toml" "$CONFIG"
  say "wrote $CONFIG (every key is documented there)"
else
  chown root:duecare "$CONFIG" && chmod 0640 "$CONFIG"
  say "kept $CONFIG"
fi
if [ -n "$SCOPE" ]; then
  quoted=$(printf '%s' "$SCOPE" | tr -d ' ' | sed 's/[^,][^,]*/"&"/g; s/,/, /g')
  if grep -q '^targets = \[\]' "$CONFIG"; then
    sed -i "s|^targets = \[\]|targets = [$quoted]|" "$CONFIG"
    say "scope set: targets = [$quoted]"
  elif ! grep -q "^targets = \[$quoted\]" "$CONFIG"; then
    die "$CONFIG already has a [scope] targets; edit it there instead of --scope"
  fi
fi
# The agent refuses to start without a scope: say so now rather than at the first start.
as duecare "$DUECARE" agent run --config "$CONFIG" --check-config \
  || say "note: fix $CONFIG (above) before starting the service"

install_unit duecare-agent.service

if [ -n "$COLLECTOR" ]; then
  if [ -e /var/lib/duecare/enrollment.json ]; then
    say "already enrolled (remove /var/lib/duecare/enrollment.json to enroll again)"
  elif [ "$TOKEN_FILE" = "-" ]; then
    as duecare "$DUECARE" agent enroll --collector "$COLLECTOR" --token-file - --state-dir /var/lib/duecare
  else
    [ -r "$TOKEN_FILE" ] || die "cannot read the token file $TOKEN_FILE"
    # root reads the token; the service user gets it on stdin and keeps only its own credential.
    as duecare "$DUECARE" agent enroll --collector "$COLLECTOR" --token-file - --state-dir /var/lib/duecare \
      < "$TOKEN_FILE"
  fi
fi
say "done; start it with: systemctl enable --now duecare-agent"
