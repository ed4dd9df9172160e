#!/usr/bin/env bash
# bench/soak.sh [options]: Loka's memory over time under a steady share load.
#
# Starts loka-poolsim (--trust), loka-stratum and loka-minersim (random
# nonces) on loopback, samples VmRSS (and RssAnon, RssFile) of the
# loka-stratum process every --interval seconds, and prints a table, the
# growth rate over the first and the last third of the run, whether it
# levelled off, and the ceiling the share rings allow (docs/benchmarks.md,
# "Memory over time (soak)", explains the figures).
#
#   --duration S        seconds of load (default 300)
#   --rate R            shares per second, all miners together (default 200)
#   --database D        sqlite (default) or postgres
#   --interval N        seconds between samples (default 10)
#   --miners M          simulated miners (default 50)
#   --pg-url URL        PostgreSQL to use; without it, a throw-away cluster
#                       is started in /tmp/lokapg-soak.* (first free port
#                       from 55432, scripts/pg-test-cluster.sh), stopped and
#                       removed at the end
#   --smaps             at the end, the largest mappings by RSS
#
# Loka's settings come from the environment as usual, e.g.
#   LOKA_DATABASE_QUEUE_SIZE=16384 bench/soak.sh --duration 120
# Binaries: built Release in build/bench (LOKA_BENCH_BUILD overrides), or
# taken as they are from LOKA_SOAK_BIN_DIR. Not a test: it never fails on a
# slow machine. Only 127.0.0.1 is used.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
duration=300 rate=200 database=sqlite interval=10 miners=50 pg_url="" smaps=0

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit "${1:-0}"
}
while [ $# -gt 0 ]; do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --database) database=$2; shift 2 ;;
    --interval) interval=$2; shift 2 ;;
    --miners) miners=$2; shift 2 ;;
    --pg-url) pg_url=$2; shift 2 ;;
    --smaps) smaps=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "bench/soak.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done
case $database in sqlite|postgres) ;; *)
  echo "bench/soak.sh: --database sqlite|postgres" >&2; exit 2 ;;
esac

if [ -n "${LOKA_SOAK_BIN_DIR:-}" ]; then
  bin=$LOKA_SOAK_BIN_DIR
else
  bin=${LOKA_BENCH_BUILD:-$root/build/bench}
  cmake -S "$root" -B "$bin" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$bin" -j"$(nproc)" --target loka-stratum loka-poolsim \
    loka-minersim >/dev/null
fi
for b in loka-stratum loka-poolsim loka-minersim; do
  [ -x "$bin/$b" ] || { echo "bench/soak.sh: no $bin/$b" >&2; exit 1; }
done

run=$(mktemp -d /tmp/loka-soak.XXXXXX)
pids=()
pg_dir=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -n "$pg_dir" ]; then
    bash "$root/scripts/pg-test-cluster.sh" stop "$pg_dir" >/dev/null || true
    rm -rf "$pg_dir"
  fi
}
trap cleanup EXIT

if [ "$database" = postgres ] && [ -z "$pg_url" ]; then
  # Its own directory right under /tmp: the server's user must reach it.
  pg_dir=$(mktemp -d /tmp/lokapg-soak.XXXXXX)
  bash "$root/scripts/pg-test-cluster.sh" start "$pg_dir" >/dev/null
  pg_url=$(bash "$root/scripts/pg-test-cluster.sh" url "$pg_dir")
fi
if [ "$database" = postgres ]; then
  db_url=$pg_url
else
  db_url="sqlite://$run/books.db"
fi

wait_file() { # FILE SECONDS
  local end=$((SECONDS + $2))
  while [ $SECONDS -lt $end ]; do
    [ -s "$1" ] && return 0
    sleep 0.1
  done
  return 1
}

"$bin/loka-poolsim" --bind 127.0.0.1:0 --port-file "$run/pool.port" \
  --trust --difficulty 0.00001 --notify-interval 30 --log-level warn \
  >"$run/poolsim.log" 2>&1 &
pids+=($!)
wait_file "$run/pool.port" 10 || { cat "$run/poolsim.log"; exit 1; }
pool_port=$(cat "$run/pool.port")

: >"$run/loka.toml"
LOKA_METRICS_BIND=127.0.0.1:0 LOKA_DATABASE_URL=$db_url \
  LOKA_DATABASE_SPOOL_PATH=$run/spool \
  "$bin/loka-stratum" start -c "$run/loka.toml" --bind 127.0.0.1:0 \
  --pool "stratum+tcp://soak@127.0.0.1:$pool_port" >"$run/loka.log" 2>&1 &
loka=$!
pids+=("$loka")
end=$((SECONDS + 20))
until grep -q "ready (pid" "$run/loka.log"; do
  if [ $SECONDS -ge $end ] || ! kill -0 "$loka" 2>/dev/null; then
    cat "$run/loka.log"; exit 1
  fi
  sleep 0.1
done
port=$(sed -n 's/.*listening for miners on [^ ]* (port \([0-9]*\)).*/\1/p' \
  "$run/loka.log" | head -1)
mport=$(sed -n 's|.*metrics on https*://[^:]*:\([0-9]*\)/metrics.*|\1|p' \
  "$run/loka.log" | head -1)

# The ceiling the share rings allow (src/store/store.c, store_new()): one
# ring per worker thread of queue_size / threads × 64 bytes, rounded up to
# a power of two; malloc'ed untouched, so its pages join the RSS only as the
# ring's head first goes over them.
threads=${LOKA_PERFORMANCE_WORKER_THREADS:-0}
[ "$threads" -gt 0 ] || threads=$(nproc)
queue=${LOKA_DATABASE_QUEUE_SIZE:-262144}
per=$((queue / threads))
cap=4096
while [ "$cap" -lt $((per * 64)) ]; do cap=$((cap * 2)); done
# Miner accounts as long as a P2WPKH address (42 characters), one worker
# each; the pool is "cli" (the --pool given on the command line).
user_prefix=bc1qsoak00000000000000000000000000000000
# One share event in a ring: 4-byte length, 32 fixed bytes, the pool, user
# and worker names, rounded up to 8 (store.c, ev_encode()); averaged over
# the miners.
slot=$(awk -v m="$miners" -v u="${#user_prefix}" 'BEGIN {
  for (i = 0; i < m; i++) {
    n = 4 + 32 + 3 + u + length(i "") + 3
    s += int((n + 7) / 8) * 8
  }
  printf "%d", s / m }')
per_miner=$(awk -v r="$rate" -v m="$miners" 'BEGIN { printf "%.6g", r / m }')
echo "# Soak: $duration s at $rate shares/s ($miners miners × $per_miner/s)," \
  "database $database, sample every $interval s"
echo "- machine: $(nproc) CPUs, $(uname -sr), load at start $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- loka-stratum pid $loka, binaries $bin, run directory $run"
echo "- share rings: $threads × $((cap / 1024)) KiB (queue_size $queue);" \
  "$slot B a share: all pages touched after about" \
  "$(awk -v b=$((threads * cap)) -v r="$rate" -v s="$slot" \
    'BEGIN { printf "%.0f", b / (r * s) }') s"
echo

"$bin/loka-minersim" --url "stratum+tcp://127.0.0.1:$port" --miners "$miners" \
  --rate "$per_miner" --mode random --duration "$duration" \
  --user "$user_prefix%d.rig" --summary "$run/miners.json" \
  --log-level warn --allow-failures >"$run/minersim.log" 2>&1 &
sim=$!
pids+=("$sim")

metric() { # NAME: the sum of its series, from /metrics
  { exec 3<>"/dev/tcp/127.0.0.1/$mport" &&
    printf 'GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n' >&3 && cat <&3; } \
    2>/dev/null | awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $2 }
      END { printf "%d", s }'
}

samples=$run/samples.csv
echo "t,vmrss_kib,rssanon_kib,rssfile_kib,committed" >"$samples"
start=$SECONDS
sample() {
  local st
  st=$(cat "/proc/$loka/status" 2>/dev/null) || return 1
  echo "$((SECONDS - start)),$(awk '/^VmRSS/ { a = $2 } /^RssAnon/ { b = $2 }
      /^RssFile/ { c = $2 } END { print a "," b "," c }' <<<"$st"),$(metric loka_store_events_committed_total)" \
    >>"$samples"
}
sample
while kill -0 "$sim" 2>/dev/null; do
  sleep "$interval"
  kill -0 "$sim" 2>/dev/null || break # the load is over: not a sample
  sample || break
done

if [ "$smaps" = 1 ] && [ -r "/proc/$loka/smaps" ]; then
  python3 - "/proc/$loka/smaps" >"$run/smaps.txt" <<'EOF'
import re
import sys

maps, cur = [], None
for line in open(sys.argv[1]):
    m = re.match(r"([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)", line)
    if m:
        cur = [0, (int(m.group(2), 16) - int(m.group(1), 16)) // 1024,
               m.group(3) or "[anon]"]
        maps.append(cur)
    elif line.startswith("Rss:"):
        cur[0] = int(line.split()[1])
print("## Largest mappings by RSS at the end")
for rss, size, name in sorted(maps, reverse=True)[:8]:
    print("- %8d KiB resident of %8d KiB  %s" % (rss, size, name))
EOF
fi
wait "$sim" 2>/dev/null || true

python3 - "$samples" "$((threads * cap / 1024))" "$rate" "$slot" <<'EOF'
import csv
import sys

rows = [{k: int(v) for k, v in r.items()} for r in csv.DictReader(open(sys.argv[1]))]
ring_kib, rate, slot = int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
print("| t (s) | VmRSS (KiB) | RssAnon (KiB) | RssFile (KiB) | events committed |")
print("|---:|---:|---:|---:|---:|")
for r in rows:
    print("| %d | %d | %d | %d | %d |" % (r["t"], r["vmrss_kib"], r["rssanon_kib"],
                                          r["rssfile_kib"], r["committed"]))


def slope(part):
    """Least-squares KiB/s of VmRSS over these samples."""
    if len(part) < 2:
        return 0.0
    n = len(part)
    mt = sum(r["t"] for r in part) / n
    mv = sum(r["vmrss_kib"] for r in part) / n
    den = sum((r["t"] - mt) ** 2 for r in part)
    return sum((r["t"] - mt) * (r["vmrss_kib"] - mv) for r in part) / den if den else 0.0


# The first sample is taken before the miners connect: leave it out.
load = rows[1:] if len(rows) > 3 else rows
third = max(2, len(load) // 3)
first, last = slope(load[:third]), slope(load[-third:])
span = rows[-1]["t"] - rows[0]["t"] or 1
print()
print("- VmRSS: %d KiB at start, %d KiB at the end (+%d KiB over %d s)" % (
    rows[0]["vmrss_kib"], rows[-1]["vmrss_kib"],
    rows[-1]["vmrss_kib"] - rows[0]["vmrss_kib"], rows[-1]["t"]))
print("- events committed: %d (%.1f/s)" % (rows[-1]["committed"],
                                          rows[-1]["committed"] / span))
print("- growth: first third %.2f KiB/s, last third %.2f KiB/s" % (first, last))
print("- ring pages first touched at %.1f KiB/s (%.0f shares/s × %d B) up to %d KiB"
      % (rate * slot / 1024, rate, slot, ring_kib))
# Levelled off: the RSS stays within 128 KiB of its final value for at
# least a tenth of the run (and three samples), or the last third grows at
# under a tenth of the first third's rate.
final = rows[-1]["vmrss_kib"]
flat = load[-1]
for r in reversed(load):
    if abs(r["vmrss_kib"] - final) > 128:
        break
    flat = r
tail = [r for r in load if r["t"] >= flat["t"]]
if len(tail) >= 3 and rows[-1]["t"] - flat["t"] >= 0.1 * span:
    print("- levelled off at %d KiB from t = %d s (flat within 128 KiB for "
          "the last %d s)" % (final, flat["t"], rows[-1]["t"] - flat["t"]))
elif last <= 0.1 * first:
    print("- levelled off: the last third grows at under a tenth of the "
          "first third's rate")
else:
    print("- still growing at the end")
EOF
if [ -s "$run/smaps.txt" ]; then
  echo
  cat "$run/smaps.txt"
fi
