#!/usr/bin/env bash
# Bring the whole system up on the embedded default (SQLite): web server, Celery worker and Celery beat.
#
#   bash scripts/run.sh             set up what is missing, start everything, print the URL and the demo
#                                   logins, stay in the foreground; Ctrl-C stops everything it started
#   bash scripts/run.sh --check     (or RUN_SMOKE=1) the same, then check that the web server and the
#                                   worker answer, stop everything and exit
#
# HOST and PORT choose where the web server listens (default 127.0.0.1:8000). Logs go to var/log/.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

SMOKE=0
case "${RUN_SMOKE:-0}" in 1 | true | yes) SMOKE=1 ;; esac
for arg in "$@"; do
    case "$arg" in
        --check | --smoke) SMOKE=1 ;;
        -h | --help)
            sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *) die "unknown argument: $arg (try --help)" ;;
    esac
done

HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
case "$HOST" in
    0.0.0.0 | "" | :: | "[::]") BROWSE_HOST=127.0.0.1 ;;
    *:*) BROWSE_HOST="[${HOST#[}" && BROWSE_HOST="${BROWSE_HOST%]}]" ;;
    *) BROWSE_HOST=$HOST ;;
esac
URL="http://$BROWSE_HOST:$PORT/"
PROBE_HOST=${BROWSE_HOST#[}
PROBE_HOST=${PROBE_HOST%]}

# The address the certificates' QR codes name: this run's, unless the environment sets the public one.
export CERTIFICATION_PUBLIC_BASE_URL=${CERTIFICATION_PUBLIC_BASE_URL:-${URL%/}}

mkdir -p var/log

# --- An earlier run still going? ------------------------------------------------------------------------
if [ -f var/run.pid ]; then
    old_pid=$(cat var/run.pid 2>/dev/null || true)
    if [ -n "$old_pid" ] && kill -0 "$old_pid" 2>/dev/null &&
        tr '\0' ' ' <"/proc/$old_pid/cmdline" 2>/dev/null | grep -q 'run\.sh'; then
        echo "The system is already running (scripts/run.sh, pid $old_pid): $URL"
        echo "Stop it with Ctrl-C in its terminal, or: kill $old_pid"
        exit 0
    fi
    rm -f var/run.pid # stale: that run is gone
fi
if port_in_use "$PROBE_HOST" "$PORT"; then
    echo "Something already listens on $HOST:$PORT — probably an earlier run that is still going: $URL"
    echo "To start another copy, choose another port: PORT=8001 bash scripts/run.sh"
    exit 0
fi

# --- Set-up ---------------------------------------------------------------------------------------------
: >"$SETUP_LOG"
ensure_packages "${BASE_PACKAGES[@]}"
ensure_venv
compile_messages

MODE=celery
if ! ensure_redis; then
    MODE=eager
    echo
    warn "Redis is not available, so there is no Celery broker. Falling back:"
    warn "  CELERY_TASK_ALWAYS_EAGER=true (tasks run inside the web process), and instead of the Celery"
    warn "  worker and beat, 'manage.py run_timers_loop' fires due timers and the daily sweeps every 60 s."
    echo
    export CELERY_TASK_ALWAYS_EAGER=true
fi

# The key that encrypts the bureaus' signing keys: made once and kept beside the database (var/), since the keys
# stored there cannot be read without it.
if [ ! -s var/signing-key-encryption-key ]; then
    (umask 077 && .venv/bin/python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())' \
        >var/signing-key-encryption-key)
fi
SIGNING_KEY_ENCRYPTION_KEY=$(cat var/signing-key-encryption-key)
export SIGNING_KEY_ENCRYPTION_KEY

say "Migrating the database (SQLite: var/db.sqlite3)"
logged "manage.py migrate" .venv/bin/python manage.py migrate --noinput
say "Loading the shipped schemes"
logged "manage.py load_scheme" .venv/bin/python manage.py load_scheme
say "Loading the demo data"
logged "manage.py seed_demo" .venv/bin/python manage.py seed_demo
logged "manage.py seed_demo_cases" .venv/bin/python manage.py seed_demo_cases

# --- Start ----------------------------------------------------------------------------------------------
CHILD_NAMES=()
CHILD_PIDS=()
STOPPING=0

stop_all() {
    [ "$STOPPING" -eq 1 ] && return 0
    STOPPING=1
    trap - INT TERM
    if [ "${#CHILD_PIDS[@]}" -gt 0 ]; then
        local pid i
        for pid in "${CHILD_PIDS[@]}"; do
            kill -TERM "$pid" 2>/dev/null || true
        done
        # Give the worker a moment for a warm shutdown, then make sure nothing is left.
        for i in $(seq 1 40); do
            local alive=0
            for pid in "${CHILD_PIDS[@]}"; do
                kill -0 "$pid" 2>/dev/null && alive=1
            done
            [ "$alive" -eq 0 ] && break
            sleep 0.25
        done
        for pid in "${CHILD_PIDS[@]}"; do
            # Each child leads its own process group (setsid): this also reaches the pool processes.
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        done
        wait 2>/dev/null || true
    fi
    [ "$(cat var/run.pid 2>/dev/null || true)" = "$$" ] && rm -f var/run.pid
    rm -f var/celerybeat.pid
    if [ "${#CHILD_PIDS[@]}" -gt 0 ]; then
        echo "Stopped."
    fi
}
trap stop_all EXIT
trap 'echo; echo "Stopping…"; exit 0' INT TERM

# start_child NAME COMMAND... — run COMMAND in the background, in its own process group, logging to
# var/log/NAME.log.
start_child() {
    local name=$1
    shift
    : >"var/log/$name.log"
    if command -v setsid >/dev/null 2>&1; then
        setsid "$@" </dev/null >>"var/log/$name.log" 2>&1 &
    else
        "$@" </dev/null >>"var/log/$name.log" 2>&1 &
    fi
    CHILD_NAMES+=("$name")
    CHILD_PIDS+=("$!")
}

# Report a child that stopped on its own, with the end of its log; true when all are alive.
children_alive() {
    local i
    for i in "${!CHILD_PIDS[@]}"; do
        if ! kill -0 "${CHILD_PIDS[$i]}" 2>/dev/null; then
            echo >&2
            warn "${CHILD_NAMES[$i]} stopped unexpectedly; the end of var/log/${CHILD_NAMES[$i]}.log:"
            tail -n 30 "var/log/${CHILD_NAMES[$i]}.log" >&2 || true
            return 1
        fi
    done
    return 0
}

echo $$ >var/run.pid
say "Starting the web server on $HOST:$PORT"
start_child web .venv/bin/python manage.py runserver "$HOST:$PORT" --noreload
if [ "$MODE" = celery ]; then
    say "Starting the Celery worker and Celery beat"
    start_child worker .venv/bin/celery -A config worker -l info --concurrency 2 -Q celery,documents,mail,sweeps
    rm -f var/celerybeat.pid # a stale pidfile would stop beat from starting
    start_child beat .venv/bin/celery -A config beat -l info --pidfile var/celerybeat.pid
else
    say "Starting the timer loop (instead of Celery worker and beat)"
    start_child timers .venv/bin/python manage.py run_timers_loop
fi

# --- Wait until the web server answers ------------------------------------------------------------------
status=000
for _ in $(seq 1 60); do
    children_alive || exit 1
    status=$(http_status "$URL")
    [ "$status" != 000 ] && break
    sleep 0.5
done
if [ "$status" = 000 ]; then
    tail -n 30 var/log/web.log >&2 || true
    die "the web server did not answer at $URL within 30 s (log: var/log/web.log)"
fi

# --- The smoke check ------------------------------------------------------------------------------------
if [ "$SMOKE" -eq 1 ]; then
    say "Smoke check"
    failed=0
    case "$status" in
        5??) warn "GET $URL answered HTTP $status" && failed=1 ;;
        *) note "web: GET $URL answered HTTP $status" ;;
    esac
    admin_status=$(http_status "${URL}admin/login/")
    if [ "$admin_status" = 200 ]; then
        note "web: GET ${URL}admin/login/ answered HTTP 200"
    else
        warn "GET ${URL}admin/login/ answered HTTP $admin_status" && failed=1
    fi
    if [ "$MODE" = celery ]; then
        node="celery@$(.venv/bin/python -c 'import socket; print(socket.gethostname())')"
        pinged=0
        for _ in $(seq 1 12); do
            children_alive || exit 1
            if .venv/bin/celery -A config inspect ping --timeout 5 -d "$node" >>var/log/smoke.log 2>&1; then
                pinged=1
                break
            fi
            sleep 2
        done
        if [ "$pinged" -eq 1 ]; then
            note "worker: $node answered celery inspect ping"
        else
            warn "the Celery worker $node did not answer 'celery -A config inspect ping'" && failed=1
        fi
    fi
    if children_alive; then
        note "all processes running: ${CHILD_NAMES[*]}"
    else
        failed=1
    fi
    if [ "$failed" -ne 0 ]; then
        die "smoke check failed (logs in var/log/)"
    fi
fi

# --- Tell the user where to go --------------------------------------------------------------------------
logins=$(.venv/bin/python manage.py seed_demo --print-logins-only 2>>"$SETUP_LOG") ||
    logins="    (could not list the demo logins; see $SETUP_LOG)"
factors=$(.venv/bin/python manage.py seed_demo --second-factor 2>>"$SETUP_LOG") ||
    factors="    (could not list the demo authenticators; see $SETUP_LOG)"

echo
echo "================================================================================"
echo " Graded certification engine is running"
echo
echo "   Site:   $URL"
echo "   Admin:  ${URL}admin/"
if [ "$MODE" = celery ]; then
    echo "   Tasks:  Celery worker + beat (Redis at 127.0.0.1:6379)"
    echo "   Logs:   var/log/web.log, var/log/worker.log, var/log/beat.log"
else
    echo "   Tasks:  in-process (no Redis); timers and sweeps from manage.py run_timers_loop every 60 s"
    echo "   Logs:   var/log/web.log, var/log/timers.log"
fi
echo
echo " Demo logins, one per role:"
echo "$logins"
echo
echo " Approver, certificate officer and admin also type a code of their authenticator (second factor):"
echo " add the secret to an authenticator app, or print the codes of the moment with"
echo " .venv/bin/python manage.py seed_demo --second-factor"
echo "$factors"
echo "================================================================================"

if [ "$SMOKE" -eq 1 ]; then
    echo "Smoke check passed."
    exit 0
fi

echo "Press Ctrl-C to stop."
while :; do
    wait -n || true
    [ "$STOPPING" -eq 1 ] && break
    children_alive || exit 1
done
