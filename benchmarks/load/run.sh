#!/usr/bin/env bash
# The load run over HTTP, all on this machine, all traffic to 127.0.0.1; it stops by itself.
#
#   bash benchmarks/load/run.sh
#
# 1. creates the throwaway PostgreSQL database $LOAD_DB (default bench_load; dropped first if a previous run
#    left it), migrates it and seeds it (benchmarks/load/seed.py): 200 experts with an open scoring task each,
#    clerks, and a certificate officer with 50 approved cases in the queue;
# 2. starts gunicorn (4 workers, production settings but plain HTTP: benchmarks/load/settings.py) on a free
#    port of 127.0.0.1 and a Celery worker consuming every queue, against Redis $LOAD_REDIS_URL (db 13; the
#    run empties that database before it starts);
# 3. runs Locust headless: $LOAD_USERS users (default 220), spawned $LOAD_SPAWN_RATE a second (50), for
#    $LOAD_RUN_TIME (60s);
# 4. waits (at most 180 s) for the batch of certificates to finish, checks the database against what the
#    users posted (benchmarks/load/check.py) and prints one JSON report (also in var/load/report.json);
# 5. stops gunicorn and the worker, drops the database and removes the run's files (logs stay in var/load/).
#
# Exit status: 0 when the check found nothing lost or duplicated, the users did post scores and start the
# batch, and Locust saw no error; 1 otherwise. On a small machine 60 s may not get past the 220 logins (each
# hashes the password, as production does): LOAD_RUN_TIME=300s gives the experts time to score.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

LOAD_DB=${LOAD_DB:-bench_load}
LOAD_PG=${LOAD_PG:-postgres://certification:certification@127.0.0.1:5432}
LOAD_REDIS_URL=${LOAD_REDIS_URL:-redis://127.0.0.1:6379/13}
LOAD_USERS=${LOAD_USERS:-220}
LOAD_SPAWN_RATE=${LOAD_SPAWN_RATE:-50}
LOAD_RUN_TIME=${LOAD_RUN_TIME:-60s}
case "$LOAD_DB" in bench_*) ;; *) die "LOAD_DB must start with bench_ (it is dropped after the run)" ;; esac
case "$LOAD_PG" in *@127.0.0.1:* | *@localhost:*) ;; *) die "LOAD_PG must be a PostgreSQL on this machine" ;; esac
case "$LOAD_REDIS_URL" in redis://127.0.0.1:* | redis://localhost:*) ;; *) die "LOAD_REDIS_URL must be local" ;; esac

DIR=var/load
mkdir -p "$DIR"
rm -rf "$DIR/media" "$DIR/static" "$DIR"/locust_* "$DIR/results.json" "$DIR/report.json"

ensure_venv
if ! .venv/bin/python -c 'import locust' 2>/dev/null; then
    say "Installing the bench extra (Locust)"
    logged "pip install bench" .venv/bin/python -m pip install -q -e ".[test,bench]"
fi
compile_messages
ensure_postgres || die "PostgreSQL is needed"
ensure_redis || die "Redis is needed"

# The environment of every process of the run.
export DATABASE_URL="$LOAD_PG/$LOAD_DB"
export REDIS_URL="$LOAD_REDIS_URL"
export DJANGO_MEDIA_ROOT="$PWD/$DIR/media"
export LOAD_STATIC_ROOT="$PWD/$DIR/static"
export EMAIL_URL="dummymail://"
export DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost"
DJANGO_SECRET_KEY=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(64))')
export DJANGO_SECRET_KEY
export DJANGO_LOG_LEVEL=WARNING
PROD=benchmarks.load.settings

pg_admin() { # pg_admin SQL — on the maintenance database, with autocommit
    .venv/bin/python - "$LOAD_PG/postgres" "$1" <<'PY'
import sys

import psycopg

with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    conn.execute(sys.argv[2])
PY
}

PIDS=()
cleanup() {
    local pid
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 1 40); do
        local alive=0
        for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" -eq 0 ] && break
        sleep 0.25
    done
    for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pg_admin "DROP DATABASE IF EXISTS \"$LOAD_DB\" WITH (FORCE)" >/dev/null 2>&1 ||
        warn "could not drop the database $LOAD_DB"
    rm -rf "$DIR/media" "$DIR/static"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

say "Creating the database $LOAD_DB"
pg_admin "DROP DATABASE IF EXISTS \"$LOAD_DB\" WITH (FORCE)"
pg_admin "CREATE DATABASE \"$LOAD_DB\" ENCODING 'UTF8' TEMPLATE template0"
.venv/bin/python -c "import redis, sys; redis.Redis.from_url(sys.argv[1]).flushdb()" "$LOAD_REDIS_URL"
DJANGO_SETTINGS_MODULE=$PROD logged "migrate" .venv/bin/python manage.py migrate --noinput
DJANGO_SETTINGS_MODULE=$PROD logged "collectstatic" .venv/bin/python manage.py collectstatic --noinput -v0
say "Seeding (the real case actions; a few minutes)"
# The demo's province comes from the demo seed, which runs only under the local settings; tasks run in place.
DJANGO_SETTINGS_MODULE=config.settings.local CELERY_TASK_ALWAYS_EAGER=true \
    .venv/bin/python -m benchmarks.load.seed "$DIR/plan.json" 2>"$DIR/seed.log" | sed 's/^/    /'

PORT=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
start() { # start NAME COMMAND...
    local name=$1
    shift
    setsid env DJANGO_SETTINGS_MODULE=$PROD "$@" </dev/null >"$DIR/$name.log" 2>&1 &
    PIDS+=("$!")
}
say "Starting gunicorn (4 workers) on $URL and a Celery worker"
start gunicorn .venv/bin/gunicorn config.wsgi:application --workers 4 --bind "127.0.0.1:$PORT"
start worker .venv/bin/celery -A config worker -l warning --concurrency 2 -Q celery,documents,mail,sweeps \
    --without-mingle --without-gossip
status=000
for _ in $(seq 1 60); do
    status=$(http_status "$URL/accounts/login/")
    [ "$status" = 200 ] && break
    sleep 0.5
done
[ "$status" = 200 ] || die "gunicorn did not answer on $URL (see $DIR/gunicorn.log)"
for _ in $(seq 1 15); do
    DJANGO_SETTINGS_MODULE=$PROD .venv/bin/celery -A config inspect ping --timeout 3 >/dev/null 2>&1 && break
    sleep 2
done

say "Locust: $LOAD_USERS users, $LOAD_SPAWN_RATE/s, $LOAD_RUN_TIME"
locust_rc=0
LOAD_PLAN="$DIR/plan.json" LOAD_RESULTS="$DIR/results.json" .venv/bin/locust -f benchmarks/load/locustfile.py \
    --headless -u "$LOAD_USERS" -r "$LOAD_SPAWN_RATE" --run-time "$LOAD_RUN_TIME" --stop-timeout 10 \
    --host "$URL" --csv "$DIR/locust" --only-summary --loglevel WARNING >"$DIR/locust.log" 2>&1 || locust_rc=$?

say "Checking the database"
check_rc=0
DJANGO_SETTINGS_MODULE=$PROD .venv/bin/python -m benchmarks.load.check "$DIR/results.json" "$DIR/plan.json" \
    --stats "$DIR/locust_stats.csv" --wait-batch 180 >"$DIR/report.json" || check_rc=$?
cat "$DIR/report.json"
errors=$(grep -c -i "error\|traceback" "$DIR/gunicorn.log" || true)
note "gunicorn log: $errors line(s) mentioning an error (var/load/gunicorn.log); Locust exit status $locust_rc"
[ "$check_rc" -eq 0 ] && [ "$locust_rc" -eq 0 ]
