# Shared helpers for the end-to-end tests (sourced, not run).
# Expects LOKA_BIN (the loka-stratum binary) and LOKA_SOURCE_DIR.
set -u
: "${LOKA_BIN:?LOKA_BIN must point at loka-stratum}"
: "${LOKA_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"

e2e_passed=0
e2e_failed=0
E2E_TMP=$(mktemp -d /tmp/loka-e2e.XXXXXX)
trap 'e2e_cleanup' EXIT
e2e_pids=()

e2e_cleanup() {
  for p in "${e2e_pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$E2E_TMP"
}

ok() { e2e_passed=$((e2e_passed + 1)); echo "ok - $*"; }
not_ok() { e2e_failed=$((e2e_failed + 1)); echo "not ok - $*"; }

# expect_exit CODE DESCRIPTION -- COMMAND...: run, keep output in $out.
expect_exit() {
  local want=$1 desc=$2
  shift 3
  out=$("$@" 2>&1)
  local got=$?
  if [ "$got" -eq "$want" ]; then ok "$desc"; else
    not_ok "$desc (exit $got, want $want)"; echo "$out" | sed 's/^/    /' | head -20
  fi
}

# expect_contains DESCRIPTION TEXT NEEDLE
expect_contains() {
  if [[ "$2" == *"$3"* ]]; then ok "$1"; else
    not_ok "$1 (missing: $3)"; echo "$2" | sed 's/^/    /' | head -20
  fi
}

# expect_absent DESCRIPTION TEXT NEEDLE
expect_absent() {
  if [[ "$2" != *"$3"* ]]; then ok "$1"; else
    not_ok "$1 (found: $3)"; echo "$2" | grep -F -- "$3" | sed 's/^/    /' | head -5
  fi
}

# wait_for_log FILE NEEDLE SECONDS
wait_for_log() {
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    grep -qF -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# wait_exit PID SECONDS: the exit status, or 124 if still running.
wait_exit() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    if ! kill -0 "$1" 2>/dev/null; then wait "$1"; return $?; fi
    sleep 0.1
  done
  return 124
}

e2e_done() {
  echo "$e2e_passed passed, $e2e_failed failed"
  [ "$e2e_failed" -eq 0 ]
}
