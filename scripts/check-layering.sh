#!/usr/bin/env bash
# Fails if the includes of src/ go in a circle: between folders (a folder
# of src/ is a layer: util/ at the bottom, proxy/ and cli/ at the top;
# every arrow must point down) or between files (a header including,
# through others, itself). Prints the layers, lowest first.
set -uo pipefail
root=${1:-$(dirname "$0")/..}
cd "$root/src" || exit 2

status=0
folders=$(mktemp) files=$(mktemp)
trap 'rm -f "$folders" "$files"' EXIT
for f in */*.c */*.h; do
  dir=${f%%/*}
  echo "$dir $dir" >>"$folders"
  echo "$f $f" >>"$files"
  grep -oE '^#include "[a-z_]+/[A-Za-z0-9_.]+"' "$f" | sed 's/#include "//; s/"$//' |
  while read -r inc; do
    [ "${inc%%/*}" != "$dir" ] && echo "${inc%%/*} $dir" >>"$folders"
    case $f in *.h) echo "$inc $f" >>"$files" ;; esac
  done
done
if ! order=$(tsort "$folders" 2>&1); then
  echo "the folders of src/ include each other in a circle:"
  echo "$order" | grep tsort
  awk '$1 != $2' "$folders" | sort -u | sed 's/^\(.*\) \(.*\)$/  \2 includes \1/'
  status=1
else
  echo "layers of src/, lowest first: $(echo $order)"
fi
if ! out=$(tsort "$files" 2>&1 >/dev/null) || [ -n "$out" ]; then
  echo "headers of src/ include each other in a circle:"
  echo "$out"
  status=1
else
  echo "no header includes itself"
fi
exit $status
