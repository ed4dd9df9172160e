#!/usr/bin/env bash
# Sets up, builds and runs Loka. State (configuration, embedded database)
# lives in ./var; the first run writes var/loka-stratum.toml, which you can
# edit. Extra arguments go to `loka-stratum start` (e.g. --pool URL).
#
# While no pool is configured (and no --pool is given), the bundled test
# pool (loka-poolsim, 127.0.0.1:3334) and four simulated miners
# (loka-minersim) run beside Loka, so a newcomer sees shares flowing
# through it. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$(nproc)" --target loka-stratum loka-poolsim loka-minersim

bin=$PWD/build/release
mkdir -p var
cd var
if [ ! -f loka-stratum.toml ]; then
  "$bin/loka-stratum" init loka-stratum.toml
fi

demo=1
[[ " $* " == *" --pool "* ]] && demo=0
if "$bin/loka-stratum" config check loka-stratum.toml 2>/dev/null | grep -qv "(0 pools)"; then
  demo=0
fi
if [ $demo -eq 0 ]; then
  exec "$bin/loka-stratum" start -c loka-stratum.toml "$@"
fi

echo "run: no pool configured: demo with the bundled test pool and 4 simulated miners"
echo "run: dashboard on http://127.0.0.1:9090/ (the [metrics] bind address), JSON API under /api/v1/"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
"$bin/loka-poolsim" --bind 127.0.0.1:3334 --difficulty 0.0001 \
  --notify-interval 30 --summary poolsim-summary.json 2>poolsim.log &
pids+=($!)
# A summary line every 10 s instead of every minute, to watch shares flow.
LOKA_LOGGING_STATS_INTERVAL=${LOKA_LOGGING_STATS_INTERVAL:-10s} \
  "$bin/loka-stratum" start -c loka-stratum.toml \
  --pool stratum+tcp://demo-account@127.0.0.1:3334 "$@" &
loka=$!
pids+=($loka)
# Miners connect once Loka listens (its first bind address, port 3333 by
# default); their shares are real, validated by the test pool.
sleep 1
port=$("$bin/loka-stratum" config show loka-stratum.toml 2>/dev/null |
  sed -n 's/^bind = \["[^"]*:\([0-9]*\)".*/\1/p' | head -n 1)
"$bin/loka-minersim" --url "stratum+tcp://127.0.0.1:${port:-3333}" \
  --miners 4 --rate 0.5 --dialect mixed --user "bc1qDemoAddress.rig%d" \
  --allow-failures 2>minersim.log &
pids+=($!)
wait "$loka"
