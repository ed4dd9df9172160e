#!/usr/bin/env bash
# Settlement as an operator runs it, through the real binary on a SQLite
# file: database migrate, earnings add, settle, distributions (table and
# JSON), settling twice, re-recording a reward, and the mistakes an
# operator makes (bad date, unknown pool, negative reward, no shares, no
# database). Rows the proxy would write (pools, miners, workers,
# submissions) are inserted with python3's sqlite3 module.
source "$(dirname "$0")/lib.bash"
cd "$E2E_TMP"

DB=sqlite://loka.db
D15=1768435200 # 2026-01-15 00:00 UTC

# sql STATEMENTS...: run SQL on loka.db; prints the rows of the last one.
sql() {
  python3 - "$@" <<'PY'
import sqlite3, sys
con = sqlite3.connect("loka.db")
rows = []
for q in sys.argv[1:]:
    rows = con.execute(q).fetchall()
con.commit()
for r in rows:
    print("|".join(str(v) for v in r))
PY
}

# --- help and usage errors need no database
for cmd in "earnings add" "settle" "distributions"; do
  expect_exit 0 "$cmd --help" -- "$LOKA_BIN" $cmd --help
  expect_contains "$cmd --help prints usage" "$out" "usage: loka-stratum $cmd"
done
expect_exit 0 "earnings --help" -- "$LOKA_BIN" earnings --help
expect_exit 2 "earnings without add" -- "$LOKA_BIN" earnings
expect_exit 2 "earnings with an unknown subcommand" -- "$LOKA_BIN" earnings remove
expect_contains "unknown subcommand is named" "$out" 'unknown subcommand "remove"'

# --- the schema, from the binary itself
expect_exit 0 "database migrate" -- "$LOKA_BIN" database migrate --database "$DB"

# --- what the proxy would have written
sql "INSERT INTO pools (name, host, port, username, sep1, sep2, settlement_time,
       settlement_offset, enabled, updated_at)
     VALUES ('main', 'pool.example', 3333, 'acct', '.', '_', '00:00', 0, 1, 0),
            ('late', 'pool.example', 3334, 'acct', '.', '_', '23:00', 90, 1, 0)" \
  "INSERT INTO miners (name, created_at) VALUES ('alice', 0), ('bob', 0)" \
  "INSERT INTO workers (pool_id, miner_id, name, first_seen, last_seen)
     SELECT p.id, m.id, w.name, 0, 0 FROM pools p, miners m,
       (SELECT 'rig1' AS name UNION ALL SELECT 'rig2') w
     WHERE p.name = 'main' AND NOT (m.name = 'bob' AND w.name = 'rig2')" \
  "INSERT INTO workers (pool_id, miner_id, name, first_seen, last_seen)
     SELECT p.id, m.id, 'rig1', 0, 0 FROM pools p, miners m
     WHERE p.name = 'late' AND m.name = 'alice'"
wid() { # wid POOL MINER WORKER
  sql "SELECT w.id FROM workers w JOIN pools p ON p.id = w.pool_id
       JOIN miners m ON m.id = w.miner_id
       WHERE p.name = '$1' AND m.name = '$2' AND w.name = '$3'"
}
a1=$(wid main alice rig1) a2=$(wid main alice rig2) b1=$(wid main bob rig1)
l1=$(wid late alice rig1)
# main, 2026-01-15 [00:00, next 00:00): alice.rig1 3000, alice.rig2 3000,
# bob.rig1 4000; shares just outside the window must not count.
sql "INSERT INTO submissions (worker_id, minute, accepted, accepted_difficulty)
     VALUES ($a1, $D15, 1, 1000), ($a1, $((D15 + 86340)), 2, 2000),
            ($a1, $((D15 - 60)), 5, 5000), ($a1, $((D15 + 86400)), 7, 7000),
            ($a2, $((D15 + 3600)), 3, 3000),
            ($b1, $((D15 + 7200)), 1, 1500), ($b1, $((D15 + 7260)), 2, 2500),
            ($l1, $((D15 + 86400 + 900)), 1, 111),
            ($l1, $((D15 + 86400 + 1800)), 1, 222)"

# --- record, settle, show
expect_exit 1 "settle before earnings are recorded" -- \
  "$LOKA_BIN" settle --pool main --date 2026-01-15 --database "$DB"
expect_contains "missing earnings explained" "$out" \
  'no earnings recorded for pool "main" on 2026-01-15'
expect_exit 0 "earnings add" -- "$LOKA_BIN" earnings add --pool main \
  --date 2026-01-15 --reward 100001 --hashrate 4.5P --database "$DB"
expect_contains "earnings add confirms" "$out" \
  'recorded pool "main", 2026-01-15: 100001 sats, hashrate 4.5e+15 H/s'
expect_contains "the earnings row" "$(sql "SELECT reward_sats, pool_hashrate FROM earnings")" \
  "100001|4500000000000000.0"

expect_exit 0 "settle" -- "$LOKA_BIN" settle --pool main --date 2026-01-15 --database "$DB"
expect_contains "settle summary" "$out" \
  'settled pool "main", 2026-01-15 (2026-01-15 00:00 to 2026-01-16 00:00 UTC): 3 workers, total difficulty 10000, 100001 sats distributed'
rows=$(sql "SELECT m.name, w.name, d.accepted_difficulty, d.reward_sats
            FROM distributions d JOIN workers w ON w.id = d.worker_id
            JOIN miners m ON m.id = d.miner_id ORDER BY m.name, w.name")
expected_rows='alice|rig1|3000.0|30000
alice|rig2|3000.0|30000
bob|rig1|4000.0|40001'
if [ "$rows" = "$expected_rows" ]; then ok "the distribution rows"; else
  not_ok "the distribution rows"; echo "$rows" | sed 's/^/    /'
fi
expect_contains "rows add up to the reward" \
  "$(sql "SELECT SUM(d.reward_sats) = e.reward_sats FROM distributions d
          JOIN earnings e ON e.pool_id = d.pool_id AND e.day = d.day")" "1"

expect_exit 0 "distributions table" -- "$LOKA_BIN" distributions --pool main \
  --date 2026-01-15 --database "$DB"
table=$out
expect_contains "table header" "$table" "MINER  WORKER"
expect_contains "table row" "$(echo "$table" | grep -E '^bob +rig1 ')" "40.0000%"
expect_contains "table row reward" "$(echo "$table" | grep -E '^bob +rig1 ')" "40001"
expect_contains "table total" "$(echo "$table" | grep -E '^TOTAL ')" "3 workers"
expect_contains "table total reward" "$(echo "$table" | grep -E '^TOTAL ')" "100.0000%             100001"

expect_exit 0 "distributions --json" -- "$LOKA_BIN" distributions --pool main \
  --date 2026-01-15 --json --database "$DB"
json=$out
check=$(python3 - "$json" <<'PY'
import json, sys
rows = json.loads(sys.argv[1])
print(len(rows), sum(r["reward_sats"] for r in rows),
      ",".join("%s.%s=%d/%g/%.4f" % (r["miner"], r["worker"], r["reward_sats"],
               r["accepted_difficulty"], r["share"]) for r in rows))
PY
)
expect_contains "JSON rows, total and values" "$check" \
  "3 100001 alice.rig1=30000/3000/0.3000,alice.rig2=30000/3000/0.3000,bob.rig1=40001/4000/0.4000"

# --- settling again changes nothing
expect_exit 0 "settle again" -- "$LOKA_BIN" settle --pool main --date 2026-01-15 --database "$DB"
"$LOKA_BIN" distributions --pool main --date 2026-01-15 --json --database "$DB" > again.json 2>&1
if [ "$(cat again.json)" = "$json" ]; then ok "settling twice gives the same rows"; else
  not_ok "settling twice gives the same rows"; diff <(echo "$json") again.json | head
fi
expect_contains "still three rows" "$(sql "SELECT COUNT(*) FROM distributions")" "3"

# --- a corrected reward replaces the old one; settle shares the new one
expect_exit 0 "earnings add again" -- "$LOKA_BIN" earnings add --pool main \
  --date 2026-01-15 --reward 3 --database "$DB"
expect_contains "one earnings row, replaced" \
  "$(sql "SELECT COUNT(*), MAX(reward_sats), MAX(pool_hashrate) FROM earnings")" "1|3|None"
expect_exit 0 "re-settle" -- "$LOKA_BIN" settle --pool main --date 2026-01-15 --database "$DB"
expect_contains "re-settle summary" "$out" "3 workers, total difficulty 10000, 3 sats distributed"
expect_contains "3 sats as 1, 1, 1" \
  "$(sql "SELECT GROUP_CONCAT(reward_sats), COUNT(*) FROM distributions")" "1,1,1|3"

# --- the configuration file names the database, like start
cat > loka-stratum.toml <<'TOML'
[database]
url = "sqlite://loka.db"
TOML
# (The pool is found, so it is loka.db; its day has no earnings yet.)
expect_exit 1 "settle reads the database from loka-stratum.toml" -- \
  "$LOKA_BIN" settle --pool late --date 2026-01-15
expect_contains "late pool needs earnings first" "$out" 'no earnings recorded for pool "late"'
expect_exit 0 "earnings add via -c" -- "$LOKA_BIN" earnings add -c loka-stratum.toml \
  --pool late --date 2026-01-15 --reward 500
# late's day 2026-01-15 starts on the 16th at 23:00 + 90 min = 00:30.
expect_exit 0 "settle a pool with an offset" -- "$LOKA_BIN" settle --pool late --date 2026-01-15
expect_contains "offset window" "$out" \
  "(2026-01-16 00:30 to 2026-01-17 00:30 UTC): 1 worker, total difficulty 222, 500 sats"
rm loka-stratum.toml

# --- mistakes
expect_exit 2 "bad date" -- "$LOKA_BIN" settle --pool main --date 2026-02-30 --database "$DB"
expect_contains "bad date explained" "$out" 'invalid --date "2026-02-30"'
expect_exit 2 "malformed date" -- "$LOKA_BIN" earnings add --pool main --date 15/01/2026 \
  --reward 5 --database "$DB"
expect_exit 2 "negative reward" -- "$LOKA_BIN" earnings add --pool main \
  --date 2026-01-15 --reward -5 --database "$DB"
expect_contains "negative reward explained" "$out" 'invalid --reward "-5"'
expect_exit 2 "reward beyond 21 million BTC" -- "$LOKA_BIN" earnings add --pool main \
  --date 2026-01-15 --reward 2100000000000001 --database "$DB"
expect_exit 2 "fractional reward" -- "$LOKA_BIN" earnings add --pool main \
  --date 2026-01-15 --reward 1.5 --database "$DB"
expect_exit 2 "bad hashrate" -- "$LOKA_BIN" earnings add --pool main \
  --date 2026-01-15 --reward 5 --hashrate fast --database "$DB"
expect_exit 2 "missing --reward" -- "$LOKA_BIN" earnings add --pool main \
  --date 2026-01-15 --database "$DB"
expect_contains "missing option named" "$out" "--reward SATS is required"
expect_exit 2 "missing --pool" -- "$LOKA_BIN" settle --date 2026-01-15 --database "$DB"
expect_exit 2 "missing --date" -- "$LOKA_BIN" distributions --pool main --database "$DB"
expect_exit 2 "--json is for distributions" -- "$LOKA_BIN" settle --pool main \
  --date 2026-01-15 --json --database "$DB"
expect_exit 1 "unknown pool" -- "$LOKA_BIN" settle --pool nope --date 2026-01-15 --database "$DB"
expect_contains "unknown pool named" "$out" 'unknown pool "nope"'
expect_exit 1 "earnings for an unknown pool" -- "$LOKA_BIN" earnings add --pool nope \
  --date 2026-01-15 --reward 5 --database "$DB"
expect_exit 1 "distributions of an unknown pool" -- "$LOKA_BIN" distributions \
  --pool nope --date 2026-01-15 --database "$DB"
expect_exit 0 "earnings for a day without shares" -- "$LOKA_BIN" earnings add \
  --pool main --date 2026-03-01 --reward 77 --database "$DB"
expect_exit 1 "settle a day without shares" -- "$LOKA_BIN" settle --pool main \
  --date 2026-03-01 --database "$DB"
expect_contains "no shares explained" "$out" 'no accepted shares for pool "main"'
expect_exit 0 "distributions of an unsettled day" -- "$LOKA_BIN" distributions \
  --pool main --date 2026-03-01 --json --database "$DB"
expect_contains "an empty JSON array" "$out" "[]"
expect_contains "and a hint" "$out" "no distributions for 2026-03-01"
expect_exit 1 "a database without the schema" -- "$LOKA_BIN" settle --pool main \
  --date 2026-01-15 --database sqlite://empty.db
expect_contains "schema hint" "$out" "loka-stratum database migrate"
expect_exit 1 "an unreachable database" -- "$LOKA_BIN" settle --pool main \
  --date 2026-01-15 --database postgresql://loka:pw-e2e-secret@127.0.0.1:1/loka
expect_contains "unreachable explained" "$out" "cannot open the database"
expect_absent "no password in the message" "$out" "pw-e2e-secret"

e2e_done
