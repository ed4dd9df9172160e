#!/usr/bin/env bash
# Sets up, builds and runs Loka. State (configuration, embedded database)
# lives in ./var; the first run writes var/loka-stratum.toml, which you can
# edit. Extra arguments go to `loka-stratum start` (e.g. --pool URL).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$(nproc)" --target loka-stratum

bin=$PWD/build/release/loka-stratum
mkdir -p var
cd var
if [ ! -f loka-stratum.toml ]; then
  "$bin" init loka-stratum.toml
fi
exec "$bin" start -c loka-stratum.toml "$@"
