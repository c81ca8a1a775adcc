# shellcheck shell=bash
# Shared set-up for scripts/run.sh and scripts/test.sh. Source it from the repository root.
#
# Everything here is idempotent: a second run finds what the first one installed or started and does
# nothing more. System packages are installed with apt-get (as root, or with sudo); without either, the
# missing packages are named and the set-up continues as far as it can.

export DEBIAN_FRONTEND=noninteractive
export PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# WeasyPrint needs Pango (text layout), the HarfBuzz subsetter (font embedding) and a CJK font for the
# Chinese certificates and letters; gettext compiles the translations; Redis is the Celery broker.
# shellcheck disable=SC2034 # used by run.sh and test.sh
BASE_PACKAGES=(
    libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 libharfbuzz0b libffi-dev shared-mime-info
    fonts-noto-cjk gettext redis-server
)

SETUP_LOG="var/log/setup.log"

# --- Messages -------------------------------------------------------------------------------------------
say() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() {
    printf 'ERROR: %s\n' "$*" >&2
    exit 1
}

# Run a command with its output going to var/log/setup.log; on failure show the end of it and stop.
logged() {
    local what=$1
    shift
    mkdir -p var/log
    printf '\n### %s: %s\n' "$(date '+%F %T')" "$*" >>"$SETUP_LOG"
    if ! "$@" >>"$SETUP_LOG" 2>&1; then
        tail -n 40 "$SETUP_LOG" >&2
        die "$what failed (full output in $SETUP_LOG)"
    fi
}

# --- Root -----------------------------------------------------------------------------------------------
# ROOT_CMD is empty when we are root, "sudo" when sudo works, unset (NO_ROOT=1) otherwise.
NO_ROOT=0
ROOT_CMD=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        ROOT_CMD=(sudo -n)
    elif command -v sudo >/dev/null 2>&1 && [ -t 0 ] && [ "${CI:-}" != "true" ]; then
        ROOT_CMD=(sudo) # interactive: sudo may ask for the password once
    else
        NO_ROOT=1
    fi
fi

as_root() {
    [ "$NO_ROOT" -eq 0 ] || return 1
    "${ROOT_CMD[@]}" "$@"
}

# --- System packages ------------------------------------------------------------------------------------
pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

APT_UPDATED=0
apt_update_once() {
    [ "$APT_UPDATED" -eq 1 ] && return 0
    say "apt-get update"
    logged "apt-get update" as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
    APT_UPDATED=1
}

# ensure_packages PKG... — install those of PKG that are missing (checked with dpkg first, so a second
# run does not touch apt at all). Packages the distribution does not have are skipped with a note.
ensure_packages() {
    if ! command -v dpkg-query >/dev/null 2>&1; then
        warn "not a Debian/Ubuntu system: make sure these (or their equivalents) are installed: $*"
        return 0
    fi
    local pkg missing=() available=()
    for pkg in "$@"; do
        pkg_installed "$pkg" || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    if [ "$NO_ROOT" -eq 1 ]; then
        warn "not root and no sudo: cannot install the missing system packages: ${missing[*]}"
        warn "install them as root (apt-get install ${missing[*]}); continuing without them where possible."
        return 0
    fi
    apt_update_once
    for pkg in "${missing[@]}"; do
        if apt-cache show --no-all-versions "$pkg" >/dev/null 2>&1; then
            available+=("$pkg")
        else
            note "package $pkg is not available on this distribution; skipping it"
        fi
    done
    [ "${#available[@]}" -eq 0 ] && return 0
    say "Installing system packages: ${available[*]}"
    # C.UTF-8 so that a PostgreSQL cluster created by the package's post-install script is UTF-8.
    logged "apt-get install" as_root env DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 LC_ALL=C.UTF-8 \
        apt-get install -y -q --no-install-recommends "${available[@]}" </dev/null
}

# --- Python and the virtual environment -----------------------------------------------------------------
PYTHON=""
find_python() {
    local candidate
    for candidate in python3 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] < (3, 13)))' 2>/dev/null; then
            PYTHON=$candidate
            return 0
        fi
    done
    die "Python 3.11 or 3.12 is required (python3 is $(python3 --version 2>&1 || echo missing))."
}

venv_ok() {
    [ -x .venv/bin/python ] &&
        .venv/bin/python -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] < (3, 13)))' 2>/dev/null &&
        .venv/bin/python -m pip --version >/dev/null 2>&1
}

# Create .venv when absent (or broken) and install the project with its test extras. pip runs only when
# pyproject.toml changed since the last successful install (stamp file .venv/.installed-<sha256>).
ensure_venv() {
    find_python
    if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        ensure_packages python3-venv
    fi
    if [ -e .venv ] && ! venv_ok; then
        note "the existing .venv is incomplete or uses another Python; recreating it"
        rm -rf .venv
    fi
    if [ ! -e .venv ]; then
        say "Creating .venv ($("$PYTHON" --version))"
        logged "python3 -m venv" "$PYTHON" -m venv .venv
    fi
    local sum stamp
    sum=$(sha256sum pyproject.toml | cut -d' ' -f1)
    stamp=".venv/.installed-$sum"
    if [ ! -f "$stamp" ]; then
        say "Installing Python dependencies into .venv (pip install -e \".[test]\")"
        logged "pip install" .venv/bin/python -m pip install -q -e ".[test]"
        rm -f .venv/.installed-*
        touch "$stamp"
    fi
}

compile_messages() {
    if ! command -v msgfmt >/dev/null 2>&1; then
        warn "gettext (msgfmt) is missing: translations are not compiled, the UI falls back to its source strings."
        return 0
    fi
    say "Compiling translations"
    logged "compilemessages" .venv/bin/python manage.py compilemessages --ignore=.venv -v0
}

# --- Redis ----------------------------------------------------------------------------------------------
# redis_ping HOST PORT — true when a Redis server answers PING (no redis-cli needed).
redis_ping() {
    local host=${1:-127.0.0.1} port=${2:-6379}
    # shellcheck disable=SC2016 # expanded by the inner shell
    timeout 3 bash -c '
        exec 3<>"/dev/tcp/$0/$1" || exit 1
        printf "PING\r\n" >&3
        IFS= read -r -t 2 reply <&3 || exit 1
        [[ $reply == "+PONG"* ]]' "$host" "$port" 2>/dev/null
}

# ensure_redis — make sure Redis answers on 127.0.0.1:6379: install it if missing, start it if down.
# Returns 1 (after saying why) when that is not possible.
ensure_redis() {
    local host=127.0.0.1 port=6379
    redis_ping "$host" "$port" && return 0
    command -v redis-server >/dev/null 2>&1 || ensure_packages redis-server
    if ! command -v redis-server >/dev/null 2>&1; then
        warn "redis-server is not installed and cannot be installed here."
        return 1
    fi
    say "Starting Redis on $host:$port"
    local opts=(--daemonize yes --port "$port" --save "" --appendonly no)
    local dir=/var/lib/redis logfile=/var/log/redis/ci.log run=(as_root)
    if [ "$NO_ROOT" -eq 0 ]; then
        as_root mkdir -p "$dir" "$(dirname "$logfile")"
    else
        # No root: run it as this user, with its files under var/.
        dir="$PWD/var/redis" logfile="$PWD/var/log/redis.log" run=()
        mkdir -p "$dir" "$(dirname "$logfile")"
    fi
    # "-::1" (optional IPv6 bind) needs Redis 6.2 or later; older ones are started with IPv4 only.
    "${run[@]}" redis-server "${opts[@]}" --bind 127.0.0.1 -::1 --dir "$dir" --logfile "$logfile" >/dev/null 2>&1 ||
        "${run[@]}" redis-server "${opts[@]}" --bind 127.0.0.1 --dir "$dir" --logfile "$logfile" >/dev/null 2>&1 ||
        true
    for _ in $(seq 1 20); do
        redis_ping "$host" "$port" && return 0
        sleep 0.5
    done
    warn "Redis did not answer on $host:$port after starting it (see /var/log/redis/ci.log or var/log/redis.log)."
    return 1
}

# --- PostgreSQL -----------------------------------------------------------------------------------------
pg_ready() {
    command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432 -t 3
}

# Run a command as the postgres system user (peer authentication on the local socket).
as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && runuser -u postgres -- "$@")
    elif [ "$NO_ROOT" -eq 0 ]; then
        (cd / && "${ROOT_CMD[@]}" -u postgres -- "$@")
    else
        # Last resort: the postgres superuser over TCP (works where local connections are trusted).
        (cd / && PGHOST=127.0.0.1 PGUSER=postgres "$@")
    fi
}

# ensure_postgres — install PostgreSQL if missing, create a cluster if there is none, start it if down.
ensure_postgres() {
    local version
    pg_ready && return 0
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
        ensure_packages postgresql
    fi
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
        warn "PostgreSQL is not installed and cannot be installed here."
        return 1
    fi
    if [ "$NO_ROOT" -eq 1 ]; then
        warn "PostgreSQL is not answering on 127.0.0.1:5432 and starting it needs root or sudo."
        return 1
    fi
    # shellcheck disable=SC2012 # version directories: plain names
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | head -1)
    if [ -z "$version" ] || [ ! -d "/etc/postgresql/$version/main" ]; then
        # shellcheck disable=SC2012
        version=${version:-$(ls /usr/lib/postgresql | sort -V | tail -1)}
        say "Creating PostgreSQL cluster $version/main"
        logged "pg_createcluster" as_root env LANG=C.UTF-8 LC_ALL=C.UTF-8 \
            pg_createcluster --locale C.UTF-8 --encoding UTF8 "$version" main
    fi
    say "Starting PostgreSQL $version/main"
    logged "pg_ctlcluster start" as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
    for _ in $(seq 1 60); do
        pg_ready && return 0
        sleep 0.5
    done
    warn "PostgreSQL $version/main did not answer on 127.0.0.1:5432 (see /var/log/postgresql/)."
    return 1
}

# ensure_pg_database NAME PASSWORD — a login role NAME (password PASSWORD, CREATEDB so the test runner can
# create its test database) and a database NAME owned by it.
ensure_pg_database() {
    local name=$1 password=$2
    local psql=(psql -X -q -At -v ON_ERROR_STOP=1 -d postgres)
    local role_exists db_exists
    role_exists=$(as_postgres "${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname = '$name'") ||
        die "cannot run psql as the postgres superuser (needs root, sudo, or trust on 127.0.0.1)"
    if [ "$role_exists" != "1" ]; then
        say "Creating PostgreSQL role $name"
        as_postgres "${psql[@]}" -c "CREATE ROLE \"$name\" LOGIN CREATEDB PASSWORD '$password'" ||
            die "could not create the PostgreSQL role $name"
    else
        as_postgres "${psql[@]}" -c "ALTER ROLE \"$name\" LOGIN CREATEDB PASSWORD '$password'" ||
            die "could not update the PostgreSQL role $name"
    fi
    db_exists=$(as_postgres "${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$name'") ||
        die "cannot query pg_database"
    if [ "$db_exists" != "1" ]; then
        say "Creating PostgreSQL database $name"
        as_postgres "${psql[@]}" -c "CREATE DATABASE \"$name\" OWNER \"$name\" ENCODING 'UTF8' TEMPLATE template0" ||
            die "could not create the PostgreSQL database $name"
    fi
    # The password works for both trust and scram-sha-256 authentication over TCP.
    if ! PGPASSWORD=$password psql -X -q -At -h 127.0.0.1 -p 5432 -U "$name" -d "$name" -c 'SELECT 1' >/dev/null; then
        die "cannot connect to PostgreSQL as $name@127.0.0.1:5432/$name"
    fi
}

# --- HTTP -----------------------------------------------------------------------------------------------
# http_status URL — print the HTTP status code (000 when nothing answers). Ignores any proxy settings.
http_status() {
    .venv/bin/python - "$1" <<'PY' 2>/dev/null || echo 000
import sys
import urllib.error
import urllib.request

opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    with opener.open(sys.argv[1], timeout=5) as response:
        print(response.status)
except urllib.error.HTTPError as exc:
    print(exc.code)
except Exception:
    print("000")
PY
}

# port_in_use HOST PORT — true when something accepts TCP connections there.
port_in_use() {
    # shellcheck disable=SC2016 # expanded by the inner shell
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}
