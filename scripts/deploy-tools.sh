#!/usr/bin/env bash
# scripts/deploy-tools.sh [DIR]: tools the deployment tests need that
# Debian 12 does not package, taken from Debian 13's archive and unpacked
# (dpkg -x) into DIR (default build/deploy-tools), never installed:
#   kubectl             kubectl kustomize (tests/deploy/kubernetes.sh);
#   python3-kubernetes  the Kubernetes API's models, for strict schema
#                       checks (pure Python; run with /usr/bin/python3);
#   docker-compose      compose v2 (a static binary), which validates
#                       deploy/compose/compose.yaml as today's docker does.
# Debian 13 is never added to the system's sources: the package lists
# live in a throw-away apt set-up under /tmp, removed on the way out, and
# are checked with the archive keys Debian 12's debian-archive-keyring
# ships. Prints DIR. Safe to run again: it does nothing when DIR already
# holds the packages below (about 5 s and 30 MB the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-build/deploy-tools}
packages=(kubectl python3-kubernetes docker-compose)

have() {
  [ -f "$dest/packages.txt" ] && [ "$(cat "$dest/packages.txt")" = "${packages[*]}" ]
}
if have; then
  echo "$dest"
  exit 0
fi
# Tests run side by side: one unpacks, the others wait for it (and then
# find the packages there); an unpack is moved into place whole.
mkdir -p "$(dirname "$dest")"
exec 9>"$dest.lock"
flock 9
if have; then
  echo "$dest"
  exit 0
fi
apt_root=$(mktemp -d /tmp/loka-deploy-tools.XXXXXX)
trap 'rm -rf "$apt_root"' EXIT
mkdir -p "$apt_root/etc/apt/apt.conf.d" "$apt_root/etc/apt/preferences.d" \
  "$apt_root/etc/apt/sources.list.d" "$apt_root/lists/partial" \
  "$apt_root/cache/archives/partial" "$apt_root/debs"
touch "$apt_root/status"
echo "deb http://deb.debian.org/debian trixie main" >"$apt_root/etc/apt/sources.list"
cat >"$apt_root/apt.conf" <<EOF
Dir::Etc "$apt_root/etc/apt/";
Dir::Etc::TrustedParts "/etc/apt/trusted.gpg.d/";
Dir::State::Lists "$apt_root/lists/";
Dir::State::status "$apt_root/status";
Dir::Cache "$apt_root/cache/";
APT::Architecture "$(dpkg --print-architecture)";
APT::Sandbox::User "root";
EOF
export APT_CONFIG=$apt_root/apt.conf
apt-get update -qq >"$apt_root/update.log" 2>&1 ||
  { cat "$apt_root/update.log" >&2; exit 1; }
(cd "$apt_root/debs" && apt-get download -qq "${packages[@]}") >&2
new=$dest.new
rm -rf "$new"
mkdir -p "$new"
for deb in "$apt_root"/debs/*.deb; do
  dpkg -x "$deb" "$new/root"
  dpkg-deb -W --showformat='${Package} ${Version}\n' "$deb" >>"$new/versions.txt"
done
echo "${packages[*]}" >"$new/packages.txt"
rm -rf "$dest"
mv "$new" "$dest"
echo "$dest"
