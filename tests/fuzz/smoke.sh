#!/usr/bin/env bash
# Runs a libFuzzer target for a few seconds from its seed corpus.
# usage: smoke.sh FUZZER CORPUS_DIR SECONDS
# The committed corpus is copied first, so new inputs never touch the tree.
# A crash leaves its input in the build's fuzz-artifacts/ folder.
set -euo pipefail
fuzzer=$1 corpus=$2 seconds=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
artifacts="$(dirname "$fuzzer")/fuzz-artifacts"
mkdir -p "$artifacts"
if [ -d "$corpus" ]; then cp -r "$corpus"/. "$work"/; fi
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$artifacts/" -print_final_stats=1 "$work" 2>"$work.log" \
  || { tail -n 60 "$work.log"; rm -f "$work.log"; exit 1; }
grep -E '^(stat::number_of_executed_units|#[0-9]+.*DONE)' "$work.log" || true
rm -f "$work.log"
