#!/usr/bin/env bash
# Static analysis of Loka's C (src/, tools/, bench/, tests/unit/):
#   static-analysis.sh cppcheck SOURCE_DIR
#   static-analysis.sh scan-build SOURCE_DIR BUILD_DIR
# Zero findings is the bar. A finding that is wrong is suppressed in
# tests/static/cppcheck.supp or tests/static/scan-build.supp, one entry
# with one line saying why; no check is turned off wholesale.
# Exit status: 0 clean, 1 findings (printed), 77 the tool is missing.
set -euo pipefail

tool=${1:?usage: static-analysis.sh cppcheck|scan-build SOURCE_DIR [BUILD_DIR]}
src=$(cd "${2:?source directory}" && pwd)

case "$tool" in
cppcheck)
  command -v cppcheck >/dev/null || { echo "skip: cppcheck not installed"; exit 77; }
  arch=$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
  # System headers are not analysed (missingIncludeSystem), but the two
  # whose macros shape our code are read: sys/queue.h and jansson.h.
  cppcheck --quiet --error-exitcode=1 --inline-suppr \
    --enable=warning,performance,portability --std=c11 --library=posix \
    -j "$(nproc)" -D__GNUC__ -D__SIZEOF_INT128__=16 \
    --include="/usr/include/$arch/sys/queue.h" \
    --include=/usr/include/jansson.h \
    -I "$src/src" -I "$src/tools" \
    --suppress=missingIncludeSystem \
    --suppressions-list="$src/tests/static/cppcheck.supp" \
    "$src/src" "$src/tools" "$src/bench" "$src/tests/unit"
  echo "cppcheck: no findings"
  ;;
scan-build)
  build=${3:?build directory}
  command -v scan-build >/dev/null || { echo "skip: scan-build (clang-tools) not installed"; exit 77; }
  reports="$build/reports"
  rm -rf "$build"
  mkdir -p "$reports"
  # scan-build puts its compiler wrapper in CC: no CMAKE_C_COMPILER here.
  scan-build -o "$reports" cmake -S "$src" -B "$build" \
    -DCMAKE_BUILD_TYPE=Debug >/dev/null
  scan-build -plist -o "$reports" cmake --build "$build" -j "$(nproc)" \
    >"$build/build.log" 2>&1 || { tail -n 30 "$build/build.log"; exit 1; }
  python3 - "$src" "$reports" "$src/tests/static/scan-build.supp" <<'EOF'
import glob, os, plistlib, sys

src, reports, supp_path = sys.argv[1:4]
# Entries: CHECKER FILE FUNCTION, then "# why" (the why is required).
supp = []
for n, line in enumerate(open(supp_path), 1):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    rule, _, why = line.partition("#")
    parts = rule.split()
    if len(parts) != 3 or not why.strip():
        sys.exit("%s:%d: want CHECKER FILE FUNCTION # why" % (supp_path, n))
    supp.append(tuple(parts))
used, found = set(), []
for path in glob.glob(os.path.join(reports, "**", "*.plist"), recursive=True):
    with open(path, "rb") as f:
        p = plistlib.load(f)
    for d in p.get("diagnostics", []):
        file = os.path.relpath(p["files"][d["location"]["file"]], src)
        key = (d.get("check_name", "?"), file, d.get("issue_context", "?"))
        if key in supp:
            used.add(key)
            continue
        found.append("%s:%d: %s [%s] in %s()" % (
            file, d["location"]["line"], d["description"], key[0], key[2]))
for f in sorted(set(found)):
    print(f)
for s in supp:
    if s not in used:
        print("unused suppression (remove it): %s %s %s" % s)
if found or len(used) != len(supp):
    sys.exit(1)
print("scan-build: no findings (%d suppressed)" % len(used))
EOF
  ;;
*)
  echo "usage: static-analysis.sh cppcheck|scan-build SOURCE_DIR [BUILD_DIR]" >&2
  exit 2
  ;;
esac
