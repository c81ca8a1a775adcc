#!/usr/bin/env bash
# The whole test suite: lint, migrations check, production deploy check, the full suite on PostgreSQL and
# Redis (with a real Celery worker), and a smoke run of the suite on SQLite.
#
#   bash scripts/test.sh                 everything
#   bash scripts/test.sh -x -k scoring   extra arguments go to the PostgreSQL pytest run (step 4)
#
# Installs and starts what is missing (PostgreSQL, Redis, the WeasyPrint libraries, a CJK font, poppler).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

STARTED=$(date +%s)
mkdir -p var/log
: >"$SETUP_LOG"

# TEST_DATABASE_URL / TEST_REDIS_URL let two checkouts run their suites side by side (another database name,
# another Redis database); the role is always "certification", which may create test databases.
PG_URL=${TEST_DATABASE_URL:-postgres://certification:certification@127.0.0.1:5432/certification}
TEST_REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}
STEPS=5

# --- Set-up ---------------------------------------------------------------------------------------------
say "Set-up"
ensure_packages "${BASE_PACKAGES[@]}" postgresql poppler-utils chromium
ensure_venv
compile_messages
ensure_postgres || die "the test suite needs PostgreSQL on 127.0.0.1:5432"
ensure_pg_database certification certification
ensure_redis || die "the test suite needs Redis on 127.0.0.1:6379"
note "PostgreSQL: $PG_URL"
note "Redis:      $TEST_REDIS_URL"

# --- Steps ----------------------------------------------------------------------------------------------
# step N TITLE COMMAND... — print a header, run COMMAND, stop the script with a clear message on failure.
step() {
    local number=$1 title=$2 rc=0
    shift 2
    echo
    echo "================================================================================"
    echo "==> [$number/$STEPS] $title"
    echo "================================================================================"
    "$@" || rc=$?
    if [ "$rc" -eq 5 ] && [[ "$title" == *pytest* ]]; then
        die "step $number/$STEPS ($title): pytest collected no tests (exit code 5) — that counts as a failure."
    elif [ "$rc" -ne 0 ]; then
        die "step $number/$STEPS ($title) failed with exit code $rc."
    fi
}

step 1 "ruff check" \
    .venv/bin/ruff check .

step 2 "migrations are up to date (makemigrations --check)" \
    env DJANGO_SETTINGS_MODULE=config.settings.test DATABASE_URL="$PG_URL" REDIS_URL="$TEST_REDIS_URL" \
    .venv/bin/python manage.py makemigrations --check --dry-run

SECRET=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(48))') # 64 characters
SIGNING_KEK=$(.venv/bin/python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')
step 3 "production deploy check (check --deploy --fail-level WARNING)" \
    env DJANGO_SETTINGS_MODULE=config.settings.production \
    DJANGO_SECRET_KEY="$SECRET" \
    SIGNING_KEY_ENCRYPTION_KEY="$SIGNING_KEK" \
    CERTIFICATION_PUBLIC_BASE_URL=https://certification.example.org \
    DJANGO_ALLOWED_HOSTS=certification.example.org \
    DATABASE_URL="$PG_URL" \
    REDIS_URL=redis://127.0.0.1:6379/0 \
    EMAIL_URL=smtp://mail.example.org:25 \
    .venv/bin/python manage.py check --deploy --fail-level WARNING

step 4 "pytest on PostgreSQL and Redis (the full suite)" \
    env DJANGO_SETTINGS_MODULE=config.settings.test DATABASE_URL="$PG_URL" REDIS_URL="$TEST_REDIS_URL" \
    .venv/bin/pytest -p no:cacheprovider "$@"

rm -f var/test-smoke.sqlite3 var/test.sqlite3
step 5 "pytest on SQLite (smoke run: the lifecycle and smoke tests)" \
    env DJANGO_SETTINGS_MODULE=config.settings.test DATABASE_URL="sqlite:///$(pwd)/var/test-smoke.sqlite3" \
    REDIS_URL="$TEST_REDIS_URL" \
    .venv/bin/pytest -p no:cacheprovider -m "(lifecycle or smoke) and not postgresql and not worker and not browser" -q

ELAPSED=$(($(date +%s) - STARTED))
echo
echo "All $STEPS steps passed (ruff, migrations, deploy check, PostgreSQL suite, SQLite smoke run) in $((ELAPSED / 60))m$((ELAPSED % 60))s."
