#!/usr/bin/env bash
# bench/compare.sh [options] BASE_REV [HEAD_REV] [-- loka-bench-proxy options]
#
# Builds two revisions (Release, each in a git worktree of its own in a
# temporary directory) and runs the benchmarks of bench/run.sh for both in
# one invocation, alternating (round 1 BASE then HEAD, round 2 HEAD then
# BASE, ...) so that both share the machine's noise. Prints every figure
# with both medians, HEAD/BASE and a mark where HEAD is worse by more than
# the threshold (docs/benchmarks.md). HEAD_REV defaults to HEAD: committed
# work only, uncommitted changes are not measured.
#
#   --runs N              rounds (default 2: BASE HEAD, HEAD BASE)
#   --scenarios LIST      of conns,shares,fanout,store,metrics
#                         (default all five)
#   --store-seconds S     seconds per loka-bench-store run (default 10)
#   --store-rates LIST    its paced rates (default 100000,500000)
#   --metrics-iterations N  loka-bench-metrics updates per thread
#                         (default 50000000)
#   --threshold PCT       what "worse" means (default 10)
#   --keep                keep the temporary directory and the raw output
#
# The proxy scenarios run HEAD's loka-bench-proxy (the same load generator
# for both) against each revision's loka-stratum: --loka and --loka-b,
# swapped every round. Its defaults here: --rate 10000 (a paced rate both
# revisions get); options after -- go to it and win, e.g.
#   bench/compare.sh HEAD~5 -- --miners 500 --hold 10 --seconds 5
# The store and metrics benchmarks are each revision's own programs.
#
# A tool, not a test: it exits 0 whatever the figures say (2 on a usage
# error, 1 when a revision does not build). Worktrees, builds and the
# benchmark processes are removed on the way out, also on Ctrl-C.
set -euo pipefail

root=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
report=$root/bench/compare_report.py

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}
die_usage() {
  echo "bench/compare.sh: $*" >&2
  exit 2
}

runs=2
scenarios=conns,shares,fanout,store,metrics
store_seconds=10
store_rates=100000,500000
metrics_iterations=50000000
threshold=10
keep=0
revs=()
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=${2:?}; shift 2 ;;
    --scenarios) scenarios=${2:?}; shift 2 ;;
    --store-seconds) store_seconds=${2:?}; shift 2 ;;
    --store-rates) store_rates=${2:?}; shift 2 ;;
    --metrics-iterations) metrics_iterations=${2:?}; shift 2 ;;
    --threshold) threshold=${2:?}; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; break ;;
    -*) die_usage "unknown option '$1' (try --help)" ;;
    *) revs+=("$1"); shift ;;
  esac
done
[ ${#revs[@]} -ge 1 ] && [ ${#revs[@]} -le 2 ] ||
  die_usage "expected BASE_REV [HEAD_REV] (try --help)"
[[ $runs =~ ^[1-9][0-9]*$ ]] || die_usage "--runs: expected a positive number"
proxy_scens=()
want_store=0
want_metrics=0
for s in ${scenarios//,/ }; do
  case $s in
    conns | shares | fanout) proxy_scens+=("$s") ;;
    store) want_store=1 ;;
    metrics) want_metrics=1 ;;
    *) die_usage "unknown scenario '$s'" ;;
  esac
done
proxy_opts=(--rate 10000 "$@")

commit_of() {
  git -C "$root" rev-parse --verify --quiet "$1^{commit}" ||
    die_usage "'$1' is not a revision"
}
base_sha=$(commit_of "${revs[0]}")
head_sha=$(commit_of "${revs[1]:-HEAD}")

tmp=$(mktemp -d /tmp/loka-compare.XXXXXX)
out=$tmp/out
mkdir -p "$out" "$tmp/run"
running=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # The benchmark now running, with everything it started (its own
  # process group, see set -m below).
  if [ -n "$running" ]; then
    kill -TERM -- "-$running" 2>/dev/null || true
    wait "$running" 2>/dev/null || true
  fi
  for w in base head; do
    if [ -d "$tmp/$w" ]; then
      git -C "$root" worktree remove --force "$tmp/$w" 2>/dev/null || true
    fi
  done
  git -C "$root" worktree prune 2>/dev/null || true
  if [ "$keep" = 1 ]; then
    echo "bench/compare.sh: raw output kept in $out" >&2
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Each benchmark in a process group of its own, killed as one on the way
# out; its output to a file. Runs in the foreground as far as the script
# is concerned (waits for it).
set -m
bench() {
  local file=$1
  shift
  # The benchmarks' own temporary directories go in ours ($TMPDIR).
  TMPDIR=$tmp/run "$@" >"$file" 2>"$file.err" &
  running=$!
  if ! wait "$running"; then
    echo "bench/compare.sh: $(basename "$1") failed:" >&2
    tail -n 5 "$file.err" >&2
    running=""
    return 1
  fi
  running=""
}

build() {
  local name=$1 sha=$2 dir=$tmp/$1
  local targets=(loka-stratum loka-bench-store loka-bench-metrics)
  [ "$name" = base ] || targets+=(loka-bench-proxy)
  git -C "$root" worktree add --detach --quiet "$dir" "$sha"
  if ! { cmake -S "$dir" -B "$dir/build" -DCMAKE_BUILD_TYPE=Release &&
    cmake --build "$dir/build" -j "$(nproc)" --target "${targets[@]}"; } \
    >"$out/build-$name.log" 2>&1; then
    echo "bench/compare.sh: $name ($sha) does not build:" >&2
    tail -n 20 "$out/build-$name.log" >&2
    exit 1
  fi
}

describe() {
  git -C "$root" log -1 --format='%h %s' "$1" | cut -c1-70 | sed 's/ *$//'
}

echo "# bench/compare.sh"
echo "- BASE: $(describe "$base_sha")"
echo "- HEAD: $(describe "$head_sha")"
echo "- CPU: $(nproc) x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- $runs rounds; proxy: ${proxy_scens[*]:-none} (loka-bench-proxy ${proxy_opts[*]}); store: $([ $want_store = 1 ] && echo "$store_rates/s, ${store_seconds} s" || echo no); metrics: $([ $want_metrics = 1 ] && echo "$metrics_iterations updates" || echo no)"
started=$(date +%s)

echo "building BASE and HEAD (Release)..." >&2
build base "$base_sha"
build head "$head_sha"

# A proxy needs two descriptors per miner (bench/run.sh does the same).
ulimit -n "$(ulimit -Hn)"

results=()
for ((i = 1; i <= runs; i++)); do
  if ((i % 2 == 1)); then order=(base head); else order=(head base); fi
  echo "round $i of $runs: ${order[*]}" >&2
  if [ ${#proxy_scens[@]} -gt 0 ]; then
    f=$out/proxy-$i.txt
    bench "$f" "$tmp/head/build/loka-bench-proxy" --targets loka,loka-b \
      --loka "$tmp/${order[0]}/build/loka-stratum" \
      --loka-b "$tmp/${order[1]}/build/loka-stratum" \
      "${proxy_opts[@]}" "${proxy_scens[@]}"
    results+=("proxy:${order[0]},${order[1]}:$f")
  fi
  for rev in "${order[@]}"; do
    if [ $want_store = 1 ]; then
      f=$out/store-$rev-$i.txt
      : >"$f"
      for rate in ${store_rates//,/ }; do
        bench "$f.part" "$tmp/$rev/build/loka-bench-store" \
          --seconds "$store_seconds" --producers 2 --rate "$rate"
        cat "$f.part" >>"$f"
      done
      results+=("store:$rev:$f")
    fi
    if [ $want_metrics = 1 ]; then
      f=$out/metrics-$rev-$i.txt
      bench "$f" "$tmp/$rev/build/loka-bench-metrics" "$metrics_iterations"
      results+=("metrics:$rev:$f")
    fi
  done
done

echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); took $(($(date +%s) - started)) s"
echo
python3 "$report" --threshold "$threshold" "${results[@]}"
