#!/usr/bin/env bash
# The command line as an operator meets it: exit codes, init/check/show,
# error messages, and `start` never printing a secret.
source "$(dirname "$0")/lib.bash"
# Metrics on a free port, so tests can run side by side.
export LOKA_METRICS_BIND=127.0.0.1:0
cd "$E2E_TMP"

# --- version, help, usage errors
expect_exit 0 "version" -- "$LOKA_BIN" version
expect_contains "version prints the version" "$out" "loka-stratum "
expect_exit 2 "no command is a usage error" -- "$LOKA_BIN"
expect_exit 2 "unknown command is a usage error" -- "$LOKA_BIN" frobnicate
expect_contains "unknown command is named" "$out" 'unknown command "frobnicate"'
for cmd in "start" "config" "init" "version"; do
  expect_exit 0 "$cmd --help" -- "$LOKA_BIN" $cmd --help
  expect_contains "$cmd --help prints usage" "$out" "usage: loka-stratum $cmd"
done
expect_exit 2 "start with a stray argument" -- "$LOKA_BIN" start extra
expect_exit 2 "start with an unknown flag" -- "$LOKA_BIN" start --nope

# --- init and check
expect_exit 0 "init writes an example" -- "$LOKA_BIN" init ex.toml
expect_exit 0 "the example passes check" -- "$LOKA_BIN" config check ex.toml
expect_contains "check says OK" "$out" "ex.toml: OK"
expect_exit 1 "init keeps an existing file" -- "$LOKA_BIN" init ex.toml
expect_contains "init explains" "$out" "already exists (use --force"
expect_exit 0 "init --force overwrites" -- "$LOKA_BIN" init --force ex.toml

# --- check reports every error with file, line and key
cat > bad.toml <<'TOML'
[server]
bind = "0.0.0.0:3333"
max_connections = 0
max_conections = 5

[loging]
level = "debug"
TOML
expect_exit 2 "check fails on a bad file" -- "$LOKA_BIN" config check bad.toml
expect_contains "bound error" "$out" \
  "error: bad.toml:3: [server] max_connections: must be between 1 and 1000000, got 0"
expect_contains "typo hint" "$out" \
  "error: bad.toml:4: [server] max_conections: unknown key (did you mean max_connections?)"
expect_contains "section hint" "$out" \
  "error: bad.toml:6: loging: unknown section (did you mean [logging]?)"
expect_contains "error count" "$out" "bad.toml: 3 errors"
printf '[server\n' > syntax.toml
expect_exit 2 "check fails on a TOML syntax error" -- "$LOKA_BIN" config check syntax.toml
expect_contains "syntax error names line and column" "$out" "error: syntax.toml:1:"
expect_exit 2 "check of a missing file" -- "$LOKA_BIN" config check missing.toml
expect_contains "missing file is named" "$out" "cannot read missing.toml: No such file"

# --- a configuration full of secrets
printf 'file-secret-pool-pw\n' > pool2.pw
export LOKA_E2E_SECRET=env-secret-pool-pw
cat > secret.toml <<'TOML'
[server]
bind = "127.0.0.1:0"
max_connections = "${LOKA_E2E_MAXC:-250}"

[[pools]]
name = "main"
url = "stratum+tcp://127.0.0.1:1"
username = "acct"
password = "inline-secret-pool-pw"

[[pools]]
name = "second"
url = "stratum+tcp://127.0.0.1:2"
username = "acct"
password_file = "pool2.pw"

[[pools]]
name = "third"
url = "stratum+tcp://127.0.0.1:3"
username = "acct"
password = "${LOKA_E2E_SECRET}"

[database]
url = "postgresql://loka:db-secret-pw@127.0.0.1/loka"
# In this test's directory (the default for PostgreSQL is the state
# directory, /var/lib/loka-stratum/journal for root).
spool_path = "cli.journal"
TOML
secrets=(inline-secret-pool-pw file-secret-pool-pw env-secret-pool-pw db-secret-pw)

expect_exit 0 "show a file with secrets" -- "$LOKA_BIN" config show secret.toml
for s in "${secrets[@]}"; do expect_absent "show hides $s" "$out" "$s"; done
expect_contains "show masks the database password" "$out" \
  'url = "postgresql://loka:***@127.0.0.1/loka"'
expect_contains "show substitutes defaults" "$out" "max_connections = 250"
LOKA_E2E_MAXC=4321 LOKA_SERVER_CONNECTION_TIMEOUT=90 \
  expect_exit 0 "show with the environment" -- "$LOKA_BIN" config show secret.toml
expect_contains "show uses \${VAR}" "$out" "max_connections = 4321"
expect_contains "show uses LOKA_SERVER_*" "$out" 'connection_timeout = "90s"'

# start, at every log level and in both formats, never logs a secret.
for fmt in text json; do
  log=$E2E_TMP/start-$fmt.log
  "$LOKA_BIN" start -c secret.toml -vv --log-format $fmt >"$log" 2>&1 &
  pid=$!
  e2e_pids+=("$pid")
  if wait_for_log "$log" "ready" 10; then ok "start ($fmt) is ready"; else
    not_ok "start ($fmt) is ready"; cat "$log"; fi
  kill -HUP "$pid"
  sleep 0.3
  if kill -0 "$pid" 2>/dev/null; then ok "SIGHUP does not kill ($fmt)"; else
    not_ok "SIGHUP does not kill ($fmt)"; fi
  kill -TERM "$pid"
  wait_exit "$pid" 10
  rc=$?
  if [ $rc -eq 0 ]; then ok "SIGTERM exits 0 ($fmt)"; else not_ok "SIGTERM exits 0 ($fmt): $rc"; fi
  text=$(cat "$log")
  for s in "${secrets[@]}"; do expect_absent "start ($fmt) log hides $s" "$text" "$s"; done
  expect_contains "start ($fmt) logs the pools" "$text" "pool second"
  expect_contains "start ($fmt) logs the masked database" "$text" \
    "postgresql://loka:***@127.0.0.1/loka"
done
json_line=$(head -n 1 "$E2E_TMP/start-json.log")
expect_contains "json log lines are JSON objects" "$json_line" '{"ts":"'

# SIGINT too.
"$LOKA_BIN" start -c secret.toml >"$E2E_TMP/int.log" 2>&1 &
pid=$!; e2e_pids+=("$pid")
wait_for_log "$E2E_TMP/int.log" "ready" 10
kill -INT "$pid"; wait_exit "$pid" 10; rc=$?
if [ $rc -eq 0 ]; then ok "SIGINT exits 0"; else not_ok "SIGINT exits 0: $rc"; fi

# --- start refuses bad configuration with exit 2
expect_exit 2 "start with a missing -c file" -- "$LOKA_BIN" start -c nope.toml
LOKA_SERVER_MAX_CONNECTIONS=0 expect_exit 2 "start with a bad environment override" \
  -- "$LOKA_BIN" start -c secret.toml
expect_contains "the variable is named" "$out" \
  "environment LOKA_SERVER_MAX_CONNECTIONS: [server] max_connections: must be between 1 and 1000000, got 0"
expect_exit 2 "start --bind with a bad address" -- "$LOKA_BIN" start -c secret.toml --bind nowhere
expect_contains "--bind error" "$out" '--bind: [server] bind: expected "host:port", got "nowhere" (no port)'
expect_exit 2 "start --pool with a bad URL" -- "$LOKA_BIN" start -c secret.toml --pool http://x:1
expect_exit 2 "start --database with a bad URL" -- "$LOKA_BIN" start --database mysql://x

# --pool with credentials: they never reach the log.
"$LOKA_BIN" start --pool stratum+tcp://acct:cli-secret-pw@127.0.0.1:3 -v >"$E2E_TMP/cli.log" 2>&1 &
pid=$!; e2e_pids+=("$pid")
wait_for_log "$E2E_TMP/cli.log" "ready" 10
kill -TERM "$pid"; wait_exit "$pid" 10
text=$(cat "$E2E_TMP/cli.log")
expect_contains "--pool replaces the pools" "$text" "pool cli: stratum+tcp://127.0.0.1:3"
expect_absent "--pool password is not logged" "$text" "cli-secret-pw"

# --- journal: usage and plain failures
expect_exit 2 "journal without a command" -- "$LOKA_BIN" journal
expect_contains "journal names its commands" "$out" "status, adopt or set-aside"
expect_exit 2 "journal with an unknown command" -- "$LOKA_BIN" journal replay
expect_exit 0 "journal --help" -- "$LOKA_BIN" journal --help
expect_contains "journal --help explains adopt" "$out" "adopt"
expect_exit 1 "journal set-aside of no journal" -- "$LOKA_BIN" journal set-aside --journal "$E2E_TMP/no-such-journal"
expect_contains "set-aside says there is none" "$out" "there is no journal at"
expect_exit 0 "journal status of an empty journal" -- "$LOKA_BIN" journal status --database "sqlite://$E2E_TMP/j.db" --journal "$E2E_TMP/j.spool"
expect_contains "status: a new journal becomes the database's" "$out" "events:    none yet"
expect_absent "status creates no database file" "$(ls "$E2E_TMP")" "j.db"

# --- the reference in docs/ is what the binary says
ref=$("$LOKA_BIN" config reference)
if [ "$ref" == "$(cat "$LOKA_SOURCE_DIR/docs/configuration.md")" ]; then
  ok "docs/configuration.md matches 'config reference'"
else
  not_ok "docs/configuration.md is stale: regenerate with 'loka-stratum config reference > docs/configuration.md'"
  diff <(echo "$ref") "$LOKA_SOURCE_DIR/docs/configuration.md" | head -20
fi

e2e_done
