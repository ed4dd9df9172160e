#!/usr/bin/env bash
# scripts/arm64-sysroot.sh [DIR]
#
# Fetches Debian's arm64 builds of the libraries Loka links (the -dev
# packages and every library they pull in) and unpacks them into DIR
# (default build/arm64-sysroot), the sysroot that the toolchain file
# cmake/aarch64-linux-gnu.cmake builds against. The C library, libgcc and
# the loader are not in it: they come with the cross compiler
# (libc6-dev-arm64-cross, in /usr/aarch64-linux-gnu, which scripts/setup.sh
# installs).
#
# libevent-dev and libpq-dev cannot be installed for arm64 beside their
# amd64 builds (they are not Multi-Arch: same), so nothing is installed:
# apt-get runs on a package list of its own, kept in DIR/.apt (the host's
# sources, architecture arm64, nothing of the host's apt state touched),
# downloads the .debs and dpkg-deb unpacks them. Needs no root.
#
# Cached: a second run with the same package set does nothing and needs no
# network. LOKA_ARM64_REFRESH=1 fetches again (newer Debian updates).
set -euo pipefail
cd "$(dirname "$0")/.."

root=$(realpath -m "${1:-build/arm64-sysroot}")

# What Loka builds against (CMakeLists.txt: pkg_check_modules).
dev_packages=(libevent-dev libssl-dev libjansson-dev libsqlite3-dev libpq-dev
  libcmocka-dev)
# In the dependency closure but provided by the cross toolchain, or only
# pulled in by libc6-dev and not needed to link Loka.
toolchain_packages=(libc6 libc6-dev libc-dev-bin libgcc-s1 gcc-12-base
  libstdc++6 linux-libc-dev libcrypt-dev libnsl-dev libtirpc-dev
  libtirpc-common)

stamp=$root/.packages
want="dev: ${dev_packages[*]}; from the toolchain: ${toolchain_packages[*]}"
if [ -f "$stamp" ] && [ "${LOKA_ARM64_REFRESH:-0}" != 1 ] &&
  [ "$(head -n 1 "$stamp")" = "$want" ]; then
  echo "arm64-sysroot: $root ($(($(wc -l <"$stamp") - 1)) packages, cached)"
  exit 0
fi

# Start clean: a run that stopped half-way left no stamp.
rm -rf "$root"
state=$root/.apt
mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$root/.debs"
: >"$state/status"
apt_opts=(
  -o "Dir::State::Lists=$state/lists"
  -o "Dir::Cache=$state/cache"
  -o "Dir::State::status=$state/status"
  -o APT::Architecture=arm64
  -o APT::Architectures::=arm64
)
# As root apt downloads as the _apt user, who cannot write here.
[ "$(id -u)" -ne 0 ] || apt_opts+=(-o APT::Sandbox::User=root)

echo "arm64-sysroot: fetching the arm64 package lists"
apt-get "${apt_opts[@]}" -qq update

# The -dev packages and the transitive closure of their dependencies,
# libraries only (tools and data packages are not linked).
packages=()
while read -r p; do
  case $p in lib*) ;; *) continue ;; esac
  [[ " ${toolchain_packages[*]} " == *" $p "* ]] || packages+=("$p")
done < <(apt-cache "${apt_opts[@]}" depends --recurse --no-recommends \
  --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances \
  "${dev_packages[@]}" | grep -v '^[ <]' | sort -u)

echo "arm64-sysroot: downloading ${#packages[@]} packages"
(cd "$root/.debs" && apt-get "${apt_opts[@]}" -qq download "${packages[@]}")

for deb in "$root"/.debs/*.deb; do
  dpkg-deb -x "$deb" "$root"
done

# Absolute symbolic links (a -dev package's libfoo.so -> /lib/...) would
# point into the host: point them into the sysroot instead.
find "$root" -path "$root/.*" -prune -o -type l -lname '/*' -print |
  while read -r link; do
    ln -sfn "$root$(readlink "$link")" "$link"
  done

{
  echo "$want"
  for deb in "$root"/.debs/*.deb; do
    dpkg-deb --show --showformat='${Package} ${Version}\n' "$deb"
  done
} >"$stamp.tmp"
rm -rf "$root/.debs" "$state"
mv "$stamp.tmp" "$stamp"
echo "arm64-sysroot: $root ($(($(wc -l <"$stamp") - 1)) packages)"
