#!/usr/bin/env bash
# Sets up, builds and runs Loka's whole test suite, as CI does:
#   1. gcc, warnings as errors: every test;
#   2. clang, ThreadSanitizer: the unit tests and the end-to-end tests of
#      the threaded paths (worker threads, store thread, API thread);
#   3. gcc cross build for arm64 (aarch64-linux-gnu), warnings as errors:
#      the unit tests under qemu-aarch64-static, against Debian's arm64
#      libraries (scripts/arm64-sysroot.sh, cached in build/arm64-sysroot);
#      the PostgreSQL halves skip there (amd64 machines only);
#   4. clang, warnings as errors, ASan + UBSan: every test again but the
#      deployment assets' (label deploy: they build and run a container
#      image of their own, with no sanitizer in it) and the one labelled
#      slow (three minutes of waiting on whole-minute windows, its code
#      covered by unit_test_watch), plus a short libFuzzer run of every
#      fuzz target.
# The last lines printed are ctest's summary of the sanitizer run.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
jobs=$(nproc)
fuzz_seconds=${LOKA_FUZZ_SECONDS:-30}

# The PostgreSQL half of the database tests runs on a throw-away cluster
# (unless LOKA_TEST_PG_URL already names a database to use), stopped and
# removed on the way out, failure or not, quietly: ctest's summary stays
# the last output. LOKA_TEST_PG_DIR lets a test stop and restart it (an
# outage); ctest runs the tests using it one at a time (RESOURCE_LOCK).
if [ -z "${LOKA_TEST_PG_URL:-}" ]; then
  pg_dir=$(mktemp -d /tmp/loka-pg.XXXXXX)
  trap 'bash scripts/pg-test-cluster.sh stop "$pg_dir" >/dev/null 2>&1; rm -rf "$pg_dir"' EXIT
  bash scripts/pg-test-cluster.sh start "$pg_dir"
  LOKA_TEST_PG_URL=$(bash scripts/pg-test-cluster.sh url "$pg_dir")
  export LOKA_TEST_PG_DIR=$pg_dir
fi
export LOKA_TEST_PG_URL

echo "== build 1/4: gcc -Werror"
cmake -S . -B build/gcc -DCMAKE_C_COMPILER=gcc -DLOKA_WERROR=ON >/dev/null
cmake --build build/gcc -j "$jobs"
ctest --test-dir build/gcc --output-on-failure -j "$jobs"
# The TOML conformance counts, for the record (the test above asserts them).
build/gcc/toml-conformance ../shared/toml-test | tail -n 1 || true

echo "== build 2/4: clang -Werror, ThreadSanitizer"
cmake -S . -B build/tsan -DCMAKE_C_COMPILER=clang -DLOKA_WERROR=ON \
  -DLOKA_TSAN=ON >/dev/null
cmake --build build/tsan -j "$jobs"
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  ctest --test-dir build/tsan --output-on-failure -j "$jobs" \
  -R '^(unit_|e2e_(api|proxy|store|journal|workers|aggregate|pool_control)$)'

echo "== build 3/4: gcc arm64 cross build -Werror, unit tests under qemu"
if [ "$(dpkg --print-architecture)" = amd64 ]; then
  bash scripts/arm64-sysroot.sh
  cmake -S . -B build/arm64 \
    -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
    -DLOKA_WERROR=ON >/dev/null
  cmake --build build/arm64 -j "$jobs"
  # Without the PostgreSQL test cluster: its tests skip themselves.
  env -u LOKA_TEST_PG_URL -u LOKA_TEST_PG_DIR \
    ctest --test-dir build/arm64 --output-on-failure -j "$jobs" -L unit
else
  echo "not an amd64 machine: skipped (the builds above are native)"
fi

echo "== build 4/4: clang -Werror, ASan + UBSan, fuzz smoke ${fuzz_seconds}s"
cmake -S . -B build/asan -DCMAKE_C_COMPILER=clang -DLOKA_WERROR=ON \
  -DLOKA_SANITIZE=ON -DLOKA_FUZZ=ON -DLOKA_FUZZ_SECONDS="$fuzz_seconds" >/dev/null
cmake --build build/asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan --output-on-failure -j "$jobs" -LE '^(deploy|slow)$'
