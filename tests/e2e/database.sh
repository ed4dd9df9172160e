#!/usr/bin/env bash
# `loka-stratum database status|migrate|reset` as an operator meets it:
# exit codes, what status prints, the URL always masked. Runs against
# SQLite, and against PostgreSQL when LOKA_TEST_PG_URL is set (in a schema
# of its own, so that other tests may share the database).
source "$(dirname "$0")/lib.bash"
cd "$E2E_TMP"

# --- usage
expect_exit 0 "database --help" -- "$LOKA_BIN" database --help
expect_contains "--help prints usage" "$out" "usage: loka-stratum database migrate"
expect_exit 2 "database without a command" -- "$LOKA_BIN" database
expect_exit 2 "database with an unknown command" -- "$LOKA_BIN" database frob
expect_contains "the unknown command is named" "$out" 'unknown command "frob"'
expect_exit 2 "database status with a stray argument" -- "$LOKA_BIN" database status extra
expect_exit 2 "database with an unknown flag" -- "$LOKA_BIN" database status --nope
expect_exit 2 "an unsupported URL is a usage error" -- \
  "$LOKA_BIN" database status --database mysql://u:mysql-secret-pw@h/db
expect_absent "the unsupported URL's password is not shown" "$out" "mysql-secret-pw"
expect_exit 2 "a missing -c file" -- "$LOKA_BIN" database status -c nope.toml
expect_exit 0 "the top-level usage lists database" -- "$LOKA_BIN" --help
expect_contains "usage line" "$out" "database migrate|status|reset"

# lifecycle URL NAME: the whole status/migrate/reset round on one database.
lifecycle() {
  local url=$1 name=$2 shown=$3
  expect_exit 0 "$name: status of an empty database" -- "$LOKA_BIN" database status --database "$url"
  expect_contains "$name: status names the engine" "$out" "engine:   ${name}"
  expect_contains "$name: status shows the URL" "$out" "database: $shown"
  expect_contains "$name: migration 1 is pending" "$out" "accounting schema"
  expect_contains "$name: pending" "$out" "pending"
  expect_exit 0 "$name: migrate" -- "$LOKA_BIN" database migrate --database "$url"
  expect_contains "$name: migrate applies them all" "$out" "applied 4 migrations"
  expect_exit 0 "$name: migrate again" -- "$LOKA_BIN" database migrate --database "$url"
  expect_contains "$name: nothing left to apply" "$out" "schema up to date"
  expect_exit 0 "$name: status after migrate" -- "$LOKA_BIN" database status --database "$url"
  expect_contains "$name: migration 1 applied" "$out" "applied 20"
  expect_absent "$name: nothing pending" "$out" "pending"
  expect_exit 2 "$name: reset without --yes refuses" -- "$LOKA_BIN" database reset --database "$url"
  expect_contains "$name: reset explains" "$out" "add --yes"
  expect_exit 0 "$name: status still applied" -- "$LOKA_BIN" database status --database "$url"
  expect_contains "$name: refused reset kept the schema" "$out" "schema up to date"
  expect_exit 0 "$name: reset --yes" -- "$LOKA_BIN" database reset --yes --database "$url"
  expect_exit 0 "$name: status after reset" -- "$LOKA_BIN" database status --database "$url"
  expect_contains "$name: pending again" "$out" "pending"
  expect_exit 0 "$name: migrate after reset" -- "$LOKA_BIN" database migrate --database "$url"
  expect_contains "$name: applied again" "$out" "applied 4 migrations"
}

# --- SQLite, by flag and from a configuration file
lifecycle "sqlite://$E2E_TMP/flag.db" sqlite "sqlite://$E2E_TMP/flag.db"
cat > db.toml <<'TOML'
[database]
url = "sqlite://from-config.db"
TOML
expect_exit 0 "migrate with the URL from -c" -- "$LOKA_BIN" database migrate -c db.toml
if [ -f from-config.db ]; then ok "the configured SQLite file was created"; else
  not_ok "the configured SQLite file was created"; fi
expect_exit 0 "status with the URL from -c" -- "$LOKA_BIN" database status -c db.toml
expect_contains "status shows the configured URL" "$out" "database: sqlite://from-config.db"
LOKA_DATABASE_URL="sqlite://from-env.db" \
  expect_exit 0 "the URL from the environment" -- "$LOKA_BIN" database migrate
expect_contains "LOKA_DATABASE_URL is used" "$out" "sqlite://from-env.db"
expect_exit 0 "--database wins over -c" -- "$LOKA_BIN" database status -c db.toml --database sqlite://other.db
expect_contains "--database is used" "$out" "database: sqlite://other.db"
mkdir -p sub && cp db.toml sub/loka-stratum.toml
(cd sub && "$LOKA_BIN" database migrate >/dev/null 2>&1)
if [ -f sub/from-config.db ]; then ok "loka-stratum.toml is read by default"; else
  not_ok "loka-stratum.toml is read by default"; fi
printf 'not a database at all %.0s' {1..200} > garbage.db
expect_exit 1 "a file that is not a database" -- "$LOKA_BIN" database status --database sqlite://garbage.db
expect_contains "the engine says why" "$out" "file is not a database"
expect_exit 1 "a directory that does not exist" -- \
  "$LOKA_BIN" database migrate --database sqlite:///nonexistent-loka-dir/x.db
expect_contains "the path is named" "$out" "sqlite:///nonexistent-loka-dir/x.db"

# --- an unreachable PostgreSQL: exit 1, masked URL, no password anywhere
pw=e2e-db-secret-pw
for sub in status migrate "reset --yes"; do
  # shellcheck disable=SC2086
  expect_exit 1 "unreachable PostgreSQL: $sub" -- \
    "$LOKA_BIN" database $sub --database "postgresql://loka:$pw@127.0.0.1:1/loka"
  expect_contains "unreachable PostgreSQL: $sub names the masked URL" "$out" \
    "postgresql://loka:***@127.0.0.1:1/loka"
  expect_absent "unreachable PostgreSQL: $sub hides the password" "$out" "$pw"
done
cat > pg.toml <<TOML
[database]
url = "postgres://loka:$pw@127.0.0.1:1/loka?connect_timeout=2"
TOML
expect_exit 1 "unreachable PostgreSQL from -c" -- "$LOKA_BIN" database status -c pg.toml
expect_contains "the file's URL is masked" "$out" "postgres://loka:***@127.0.0.1:1/loka"
expect_absent "the file's password is hidden" "$out" "$pw"

# --- a real PostgreSQL
if [ -z "${LOKA_TEST_PG_URL:-}" ]; then
  echo "ok - # SKIP PostgreSQL: LOKA_TEST_PG_URL is not set (scripts/test.sh sets it)"
elif ! command -v psql >/dev/null; then
  echo "ok - # SKIP PostgreSQL: psql is not installed"
else
  schema="loka_e2e_$$"
  if psql "$LOKA_TEST_PG_URL" -qAtc "CREATE SCHEMA $schema" >/dev/null 2>&1; then
    ok "postgresql: a schema for this test"
    sep='?'
    [[ "$LOKA_TEST_PG_URL" == *\?* ]] && sep='&'
    url="${LOKA_TEST_PG_URL}${sep}options=-c%20search_path%3D$schema"
    lifecycle "$url" postgresql "$url"
    tables=$(psql "$LOKA_TEST_PG_URL" -qAtc "SELECT string_agg(table_name, ',' ORDER BY table_name)
      FROM information_schema.tables WHERE table_schema = '$schema'")
    expect_contains "postgresql: the tables are there" "$tables" \
      "distributions,earnings,loka_database,miners,pool_minutes,pools,schema_migrations,share_log,store_progress,submissions,worker_hours,workers"
    # Several instances migrating at once apply each version once.
    "$LOKA_BIN" database reset --yes --database "$url" >/dev/null 2>&1
    pids=()
    for i in 1 2 3 4; do
      "$LOKA_BIN" database migrate --database "$url" >"race$i.out" 2>&1 &
      pids+=($!)
    done
    fails=0
    for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
    applied=$(cat race*.out | grep -c "applied 4 migrations")
    if [ "$fails" -eq 0 ] && [ "$applied" -eq 1 ]; then
      ok "postgresql: four concurrent migrates, one applies"
    else
      not_ok "postgresql: four concurrent migrates ($fails failed, $applied applied)"
      cat race*.out | sed 's/^/    /'
    fi
    psql "$LOKA_TEST_PG_URL" -qAtc "DROP SCHEMA $schema CASCADE" >/dev/null 2>&1
  else
    not_ok "postgresql: cannot create a schema in \$LOKA_TEST_PG_URL"
  fi
fi

e2e_done
