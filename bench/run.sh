#!/usr/bin/env bash
# bench/run.sh [scenario ...] [-- loka-bench-proxy options]
#
# Builds Loka and the benchmarks (Release, in build/bench) and runs each
# scenario end to end, printing the machine, the kernel settings that
# matter and a table per scenario (docs/benchmarks.md explains them).
#
#   conns    N idle miners held through Loka and HAProxy: memory per
#            session, CPU while holding them
#   shares   share throughput and the latency Loka adds (vs direct and
#            HAProxy), CPU per forwarded message
#   fanout   time from the pool's mining.notify to each of N miners
#   proxy    conns, shares and fanout in one go (the default)
#   store    loka-bench-store (SQLite, two paced rates)
#   metrics  loka-bench-metrics
#
# Options after -- go to loka-bench-proxy, e.g.
#   bench/run.sh conns -- --miners 9980
#   bench/run.sh shares -- --miners 500 --seconds 20
# LOKA_BENCH_BUILD overrides the build directory.
#
# Benchmarks print figures; they are not tests and never fail on a slow
# machine. Only loopback addresses (127.0.0.0/8) are used.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${LOKA_BENCH_BUILD:-$root/build/bench}

scenarios=()
while [ $# -gt 0 ]; do
  case $1 in
    --) shift; break ;;
    conns|shares|fanout|proxy|store|metrics) scenarios+=("$1"); shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next }
                    NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown scenario '$1' (try --help)" >&2; exit 2 ;;
  esac
done
[ ${#scenarios[@]} -gt 0 ] || scenarios=(proxy)

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target loka-stratum loka-bench-proxy \
  loka-bench-store loka-bench-metrics >/dev/null

# Two descriptors per miner through a proxy, one per miner in each of the
# benchmark's two processes: take all the hard limit allows.
ulimit -n "$(ulimit -Hn)"

sysctl_value() { cat "/proc/sys/${1//.//}" 2>/dev/null || echo "?"; }

echo "# Machine"
echo "- CPU: $(nproc) x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
echo "- memory: $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
echo "- kernel: $(uname -sr)"
echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- open files: soft $(ulimit -Sn), hard $(ulimit -Hn); fs.nr_open $(sysctl_value fs.nr_open)"
echo "- net.ipv4.ip_local_port_range $(sysctl_value net.ipv4.ip_local_port_range | tr '\t' ' ')," \
  "net.ipv4.tcp_tw_reuse $(sysctl_value net.ipv4.tcp_tw_reuse)," \
  "net.core.somaxconn $(sysctl_value net.core.somaxconn)," \
  "net.ipv4.tcp_max_syn_backlog $(sysctl_value net.ipv4.tcp_max_syn_backlog)"
echo "- net.ipv4.tcp_rmem $(sysctl_value net.ipv4.tcp_rmem | tr '\t' ' ')," \
  "tcp_wmem $(sysctl_value net.ipv4.tcp_wmem | tr '\t' ' ')"
echo "- haproxy: $(/usr/sbin/haproxy -v 2>/dev/null | head -1 || echo missing)"
echo

proxy_args=()
for s in "${scenarios[@]}"; do
  case $s in
    conns|shares|fanout) proxy_args+=("$s") ;;
    proxy) proxy_args+=(conns shares fanout) ;;
  esac
done
if [ ${#proxy_args[@]} -gt 0 ]; then
  "$build/loka-bench-proxy" "$@" "${proxy_args[@]}"
fi

for s in "${scenarios[@]}"; do
  case $s in
    store)
      echo
      echo "## store (SQLite)"
      for rate in 100000 500000; do
        "$build/loka-bench-store" --seconds 10 --producers 2 --rate "$rate"
      done
      ;;
    metrics)
      echo
      echo "## metrics registry"
      "$build/loka-bench-metrics"
      ;;
  esac
done
