#!/usr/bin/env bash
# Sets up, builds and runs Loka's whole test suite, as CI does:
#   1. gcc, warnings as errors: every test;
#   2. clang, warnings as errors, ASan + UBSan: every test again, plus a
#      short libFuzzer run of every fuzz target.
# The last lines printed are ctest's summary of the sanitizer run.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
jobs=$(nproc)
fuzz_seconds=${LOKA_FUZZ_SECONDS:-30}

echo "== build 1/2: gcc -Werror"
cmake -S . -B build/gcc -DCMAKE_C_COMPILER=gcc -DLOKA_WERROR=ON >/dev/null
cmake --build build/gcc -j "$jobs"
ctest --test-dir build/gcc --output-on-failure -j "$jobs"
# The TOML conformance counts, for the record (the test above asserts them).
build/gcc/toml-conformance ../shared/toml-test | tail -n 1 || true

echo "== build 2/2: clang -Werror, ASan + UBSan, fuzz smoke ${fuzz_seconds}s"
cmake -S . -B build/asan -DCMAKE_C_COMPILER=clang -DLOKA_WERROR=ON \
  -DLOKA_SANITIZE=ON -DLOKA_FUZZ=ON -DLOKA_FUZZ_SECONDS="$fuzz_seconds" >/dev/null
cmake --build build/asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan --output-on-failure -j "$jobs"
