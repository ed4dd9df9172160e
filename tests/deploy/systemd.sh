#!/usr/bin/env bash
# The systemd unit (deploy/systemd/loka-stratum.service): systemd-analyze
# verify says nothing about it (any output is a finding: verify exits 0 on
# unknown keys), and its exposure score stays under 2.0. The unit runs the
# binary from this build (verify checks that the command exists and is
# executable). Skips (77) without systemd-analyze. systemd_run.sh runs the
# unit under systemd for real, in a container.
set -euo pipefail
src=${LOKA_SOURCE_DIR:?}
bin=${LOKA_BIN:?}
command -v systemd-analyze >/dev/null || { echo "skip: no systemd-analyze"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unit="$tmp/loka-stratum.service"
sed "s|/usr/local/bin/loka-stratum|$bin|" \
  "$src/deploy/systemd/loka-stratum.service" >"$unit"
fail=0
out=$(cd "$tmp" && systemd-analyze verify "$unit" 2>&1) || true
if [ -z "$out" ]; then
  echo "ok - systemd-analyze verify: nothing to say"
else
  echo "not ok - systemd-analyze verify:"; echo "$out" | sed 's/^/    /'; fail=1
fi
score=$(systemd-analyze security --offline=yes "$unit" 2>/dev/null |
  sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s < 2.0) }'; then
  echo "ok - systemd-analyze security: exposure $score (under 2.0)"
else
  echo "not ok - systemd-analyze security: exposure ${score:-unknown}, want under 2.0"; fail=1
fi
for key in 'ExecReload=/bin/kill -HUP $MAINPID' 'StateDirectory=loka-stratum' \
    'LimitNOFILE=' 'User=loka-stratum'; do
  if grep -qF "$key" "$unit"; then echo "ok - the unit has $key"
  else echo "not ok - the unit lacks $key"; fail=1; fi
done
exit $fail
