#!/usr/bin/env bash
# Fails if Loka's C sources call a banned function: strcpy, strcat,
# sprintf, vsprintf, atoi, gets (use snprintf, memcpy, strtol) or call
# realloc outside the xmalloc wrappers (use xreallocarray).
set -uo pipefail
root=${1:-$(dirname "$0")/..}
cd "$root" || exit 2

dirs=()
for d in src tests tools bench; do [ -d "$d" ] && dirs+=("$d"); done

status=0
hits=$(grep -rnE --include='*.c' --include='*.h' \
  '\b(strcpy|strcat|sprintf|vsprintf|atoi|gets)[[:space:]]*\(' "${dirs[@]}")
if [ -n "$hits" ]; then
  echo "banned functions used:"
  echo "$hits"
  status=1
fi
hits=$(grep -rnE --include='*.c' '\brealloc[[:space:]]*\(' "${dirs[@]}" \
  | grep -v '^src/util/xmalloc.c:')
if [ -n "$hits" ]; then
  echo "realloc outside src/util/xmalloc.c (use xreallocarray):"
  echo "$hits"
  status=1
fi
[ $status -eq 0 ] && echo "no banned functions in ${dirs[*]}"
exit $status
