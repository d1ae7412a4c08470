#!/usr/bin/env bash
# Installs the duecare collector as a systemd service (as root), the README's collector steps:
#   user `duecare-collector`; /var/lib/duecare-collector (0700); /etc/duecare/collector.toml
#   (0640 root:duecare-collector), read by the service and by every admin command alike; the TLS
#   certificate and key in /etc/duecare/tls (key 0640 root:duecare-collector); the unit; the schema.
# Safe to run again: an existing collector.toml is kept; certificates are refreshed (renewals).
#
#   scripts/install-collector.sh [--tls-cert FILE --tls-key FILE] [--listen HOST:PORT] [--db URL]
#     --tls-cert/--tls-key  the collector serves HTTPS itself (default listen 0.0.0.0:8443)
#     without them          it serves plain HTTP on 127.0.0.1:8080 for a TLS reverse proxy on :8443
#     --db                  postgresql://user@host/db (default: SQLite in /var/lib/duecare-collector)
set -euo pipefail
. "$(dirname "$0")/service-common.sh"

CERT="" KEY="" LISTEN="" DB=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tls-cert) CERT=${2:?--tls-cert needs a file}; shift 2 ;;
    --tls-key) KEY=${2:?--tls-key needs a file}; shift 2 ;;
    --listen) LISTEN=${2:?--listen needs HOST:PORT}; shift 2 ;;
    --db) DB=${2:?--db needs a URL}; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
if [ -n "$CERT$KEY" ] && { [ -z "$CERT" ] || [ -z "$KEY" ]; }; then die "--tls-cert and --tls-key go together"; fi
for f in "$CERT" "$KEY"; do [ -z "$f" ] || [ -r "$f" ] || die "cannot read $f"; done

require_root
require_duecare
ensure_user duecare-collector /var/lib/duecare-collector duecare-collector.sysusers.conf
install -d -m 0755 -o root -g root /etc/duecare
install -d -m 0700 -o duecare-collector -g duecare-collector /var/lib/duecare-collector

if [ -n "$CERT" ]; then
  install -d -m 0750 -o root -g duecare-collector /etc/duecare/tls
  install -m 0644 -o root -g root "$CERT" /etc/duecare/tls/collector.crt
  install -m 0640 -o root -g duecare-collector "$KEY" /etc/duecare/tls/collector.key
fi

CONFIG=/etc/duecare/collector.toml
if [ ! -e "$CONFIG" ]; then
  {
    echo "# duecare collector: read by the service and by every \`duecare collector\` admin command."
    if [ -n "$DB" ]; then echo "db = \"$DB\""; else echo "# db: SQLite in /var/lib/duecare-collector (set db = \"postgresql://…\" for PostgreSQL)"; fi
    if [ -n "$CERT" ]; then
      echo "listen = \"${LISTEN:-0.0.0.0:8443}\""
      echo "tls_cert = \"/etc/duecare/tls/collector.crt\""
      echo "tls_key = \"/etc/duecare/tls/collector.key\""
    else
      echo "listen = \"${LISTEN:-127.0.0.1:8080}\"   # plain HTTP: a TLS reverse proxy in front serves :8443"
    fi
  } > "$CONFIG.tmp"
  install -m 0640 -o root -g duecare-collector "$CONFIG.tmp" "$CONFIG"
  rm -f "$CONFIG.tmp"
  say "wrote $CONFIG"
else
  chown root:duecare-collector "$CONFIG" && chmod 0640 "$CONFIG"
  say "kept $CONFIG"
fi

install_unit duecare-collector.service
# The schema, made by the service's user so the SQLite file is the service's.
(cd / && as duecare-collector "$DUECARE" collector init)
say "done; start it with: systemctl enable --now duecare-collector"
