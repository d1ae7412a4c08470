#!/usr/bin/env bash
# The main job, end to end, on a fresh machine (as root): install, build the demo lab, start a
# local collector, enroll an agent, scan the lab with the baseline profile, post the signed report,
# print the findings table, write report.html, pull the MSP's changes, tear everything down.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
D="$PWD/.venv/bin/duecare"
PY="$PWD/.venv/bin/python"
PREFIX=${DUECARE_DEMO_PREFIX:-dcdemo}
NS="$PREFIX-scan"
WORK=$(mktemp -d /tmp/duecare-demo.XXXXXX)
# The outputs belong to whoever ran the demo (sudo's caller, else the checkout's owner), so they can open them.
OWNER="${SUDO_UID:-$(stat -c %u .)}:${SUDO_GID:-$(stat -c %g .)}"
DB="sqlite:///$WORK/collector.sqlite"
COLLECTOR_PID=""

cleanup() {
  [ -n "$COLLECTOR_PID" ] && kill "$COLLECTOR_PID" 2>/dev/null && wait "$COLLECTOR_PID" 2>/dev/null || true
  "$PY" -m duecare.lab down --prefix "$PREFIX" >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "== lab: building the demo office LAN (network namespaces, no route to this machine's network)"
"$PY" -m duecare.lab up --prefix "$PREFIX" | tail -n +1

echo "== collector: a local one, inside the lab's scanner namespace (127.0.0.1 there)"
"$D" collector init --db "$DB" >/dev/null
"$D" collector add-client "Example Dental" --db "$DB" >/dev/null
"$D" collector add-site "Example Dental" "Main office" --db "$DB" | tail -n 1 > "$WORK/enroll.token"
"$D" collector add-reader --client "Example Dental" --db "$DB" | tail -n 1 > "$WORK/reader.key"
"$D" collector add-reader --all-clients --db "$DB" | tail -n 1 > "$WORK/msp-reader.key"
ip netns exec "$NS" "$D" collector serve --db "$DB" --listen 127.0.0.1:8787 > "$WORK/collector.log" 2>&1 &
COLLECTOR_PID=$!
for _ in $(seq 1 50); do
  ip netns exec "$NS" "$PY" -c "import httpx,sys; sys.exit(httpx.get('http://127.0.0.1:8787/healthz').status_code != 200)" \
    2>/dev/null && break
  sleep 0.2
done

echo "== agent: enroll with the site token"
ip netns exec "$NS" "$D" agent enroll --collector http://127.0.0.1:8787 --token-file "$WORK/enroll.token" \
  --state-dir "$WORK/agent"

echo "== scan: the lab subnet, baseline standard of care"
set +e
ip netns exec "$NS" "$D" scan 198.18.0.0/24 --exclude 198.18.0.2 --profile baseline \
  --authorized-by "demo operator ($(id -un)@$(hostname))" \
  --report "$PWD/report.html" --json-out "$WORK/report.json" --post --state-dir "$WORK/agent"
rc=$?
set -e
[ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || { echo "scan failed with exit code $rc" >&2; exit "$rc"; }

echo "== MSP: the nightly pull (CSV: one row per change) and an offline check of the signed chain"
ip netns exec "$NS" "$D" pull --collector http://127.0.0.1:8787 --key-file "$WORK/reader.key" \
  --cursor-file "$WORK/cursor" --format csv --out "$WORK/changes.csv"
"$PY" - "$WORK/changes.csv" <<'PYEOF'
import collections, csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
kinds = collections.Counter(r["kind"] for r in rows)
print(f"{len(rows)} CSV rows, one per change: " + ", ".join(f"{n} {k}" for k, n in kinds.most_common()))
print("first findings:")
for r in [r for r in rows if r["kind"] == "finding"][:6]:
    print(f"  {r['transition']:<9} {r['severity']:<9} {r['host']:>14}:{r['port']:<6} {r['exposure']}")
PYEOF
"$D" verify --state-dir "$WORK/agent"
chown "$OWNER" "$PWD/report.html"
chown -R "$OWNER" "$WORK"

# The console: the lab is torn down (nothing is scanned any more), and the same database is served on
# this machine's loopback only, so a browser here can open it. It keeps running after the demo.
kill "$COLLECTOR_PID" 2>/dev/null && wait "$COLLECTOR_PID" 2>/dev/null || true
COLLECTOR_PID=""
"$PY" -m duecare.lab down --prefix "$PREFIX" >/dev/null 2>&1 || true
CONSOLE_PORT=${DUECARE_DEMO_CONSOLE_PORT:-8787}
setsid "$D" collector serve --db "$DB" --listen "127.0.0.1:$CONSOLE_PORT" < /dev/null > "$WORK/console.log" 2>&1 &
CONSOLE_PID=$!
for _ in $(seq 1 50); do
  "$PY" -c "import httpx,sys; sys.exit(httpx.get('http://127.0.0.1:$CONSOLE_PORT/healthz').status_code != 200)" \
    2>/dev/null && break
  sleep 0.2
done
echo
echo "report: $PWD/report.html   (JSON report, collector DB and pulled changes in $WORK)"
echo "console: http://127.0.0.1:$CONSOLE_PORT/console/   (open it in a browser on this machine; the collector listens on loopback only)"
echo "  owner's read key (Example Dental only): $(cat "$WORK/reader.key")"
echo "  MSP's read key (every client):          $(cat "$WORK/msp-reader.key")"
echo "  the console's collector keeps running (pid $CONSOLE_PID); stop it with: kill $CONSOLE_PID"
