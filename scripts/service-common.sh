# Shared by install-agent.sh and install-collector.sh (sourced, not run). Plain POSIX tools and
# util-linux only: no sudo, no network. Every step is safe to repeat.

PREFIX=${DUECARE_PREFIX:-/opt/duecare}
DUECARE="$PREFIX/bin/duecare"
SRC=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "$(basename "$0"): $*" >&2; exit 2; }
say() { echo "$(basename "$0"): $*"; }

require_root() {
  [ "$(id -u)" -eq 0 ] || die "run as root (it creates a system user, directories and a systemd unit)"
}

require_duecare() {
  [ -x "$DUECARE" ] || die "$DUECARE not found: install the wheel first (README, \"Install\"):
  python3 -m venv $PREFIX && $PREFIX/bin/pip install dist/duecare-*.whl"
  # The unit and the commands below call duecare by this path; a symlink puts it on root's PATH too.
  ln -sfn "$DUECARE" /usr/local/bin/duecare
}

# ensure_user NAME HOME: the dedicated system user, from our sysusers.d file when systemd-sysusers is
# there (the file then also recreates the user on an image rebuild), else with useradd.
ensure_user() {
  local name=$1 home=$2 conf="$SRC/systemd/$3"
  if command -v systemd-sysusers >/dev/null 2>&1; then
    install -D -m 0644 "$conf" "/usr/lib/sysusers.d/$(basename "$conf" .sysusers.conf).conf"
    systemd-sysusers "/usr/lib/sysusers.d/$(basename "$conf" .sysusers.conf).conf"
  elif ! getent passwd "$name" >/dev/null; then
    useradd --system --user-group --home-dir "$home" --no-create-home --shell /usr/sbin/nologin "$name"
  fi
  getent passwd "$name" >/dev/null || die "could not create the system user $name"
}

install_unit() {
  install -D -m 0644 "$SRC/systemd/$1" "/etc/systemd/system/$1"
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
  fi
}

# as USER CMD…: run a command as the service's user (util-linux runuser: no sudo needed).
as() { local user=$1; shift; runuser -u "$user" -- "$@"; }
