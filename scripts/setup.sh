#!/usr/bin/env bash
# Installs every Debian package that building, testing and running Loka
# needs, when missing. Safe to run again: it does nothing when all is there.
set -euo pipefail

packages=(
  build-essential cmake pkg-config     # toolchain
  clang libclang-rt-dev                # second compiler, sanitizers, libFuzzer
  clang-tools cppcheck                 # static analysis (scan-build, cppcheck)
  libevent-dev libssl-dev libjansson-dev
  libsqlite3-dev libpq-dev
  postgresql                           # a throw-away server for the tests
  libcmocka-dev                        # unit tests
  python3 ca-certificates procps       # python3: end-to-end test driver
  openssl                              # test certificates (tests/e2e/tls.py)
  python3-yaml                         # the monitoring tests read the rules
  prometheus                           # promtool checks, the monitoring e2e test
  prometheus-alertmanager              # amtool, the Alertmanager example's test
  haproxy                              # the L4 baseline of the benchmarks
  chromium                             # headless browser: the dashboard test
  libjs-chart.js                       # the dashboard's charts (compiled in)
  # The deployment tests (tests/deploy/): the container image built and
  # run (no registry: the base image comes from debootstrap), the
  # Kubernetes pod played, the compose file's validation; npm for the
  # Dockerfile lint below. scripts/deploy-tools.sh adds what Debian 12
  # lacks (kubectl, python3-kubernetes, compose v2) from Debian 13,
  # unpacked under build/, never installed.
  podman buildah runc debootstrap
  catatonit                            # podman kube play's pause image
  docker-compose
  docker.io iproute2                   # dockerd, in a test's own namespace
  python3-dateutil                     # Debian 13's python3-kubernetes
)
# npm for the Dockerfile lint: Debian's, unless the machine has an npm
# already (a Node.js build that ships its own conflicts with it).
if ! command -v npm >/dev/null; then
  packages+=(npm)
fi
# The arm64 stage of scripts/test.sh, on an amd64 machine (CI's): a cross
# compiler and C library, and an emulator for the unit tests.
# scripts/arm64-sysroot.sh fetches the arm64 libraries it links.
if [ "$(dpkg --print-architecture)" = amd64 ]; then
  packages+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static)
fi

missing=()
for p in "${packages[@]}"; do
  # A package counts as present only when dpkg says it is installed.
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then
    sudo="sudo"
  else
    echo "setup: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
# docker.io would start its daemon on installation, which makes a bridge,
# firewall rules and IP forwarding in the host's network: no service
# starts while installing (the tests start dockerd themselves, in a
# network namespace of their own).
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod 0755 /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
