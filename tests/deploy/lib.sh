# Sourced by the deployment tests that build or run containers
# (image.sh, kubernetes.sh): TAP-like reporting, and podman and buildah
# set up for a machine with no registry and no systemd, that the tests
# must leave as they found it:
#   - every setting in files of the test's own work dir
#     (CONTAINERS_STORAGE_CONF, CONTAINERS_CONF); the image store is a
#     cache under build/deploy/ (layers survive a re-run, and the
#     Kubernetes test runs the image the image test built), never the
#     system's;
#   - runc (crun rejects hybrid cgroup v1/v2 hosts), cgroupfs under the
#     shell's own memory cgroup, events to a file;
#   - the host's network namespace only (netns = "host", and
#     --network=host on every command): a default podman network would
#     add a bridge, firewall rules and IP forwarding to the host;
#   - the base image debian:bookworm-slim made with debootstrap from the
#     Debian archive (cached as a tarball) and imported under exactly the
#     name the Dockerfile's FROM uses, so the Dockerfile needs no change;
#     builds never pull.
# Everything a test starts is removed by its name on the way out.

src=${LOKA_SOURCE_DIR:?}
deploy_cache=${LOKA_DEPLOY_CACHE:-$src/build/deploy}
image_tag=localhost/loka-stratum:test
base_tag=docker.io/library/debian:bookworm-slim

fail=0
ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; fail=1; }
finish() {
  if [ "$fail" -eq 0 ]; then echo "all checks passed"; fi
  exit "$fail"
}
skip() { echo "skip: $*"; exit 77; }

# containers_need: skip unless this machine can build and run images.
containers_need() {
  [ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, podman's storage)"
  local t
  for t in podman buildah runc debootstrap; do
    command -v "$t" >/dev/null || skip "no $t (scripts/setup.sh installs it)"
  done
}

# containers_setup WORK: the configuration files in WORK, exported.
containers_setup() {
  local work=$1
  mkdir -p "$deploy_cache/containers/storage" "$deploy_cache/containers/run" \
    "$deploy_cache/containers/tmp"
  cat >"$work/storage.conf" <<EOF
[storage]
driver = "overlay"
runroot = "$deploy_cache/containers/run"
graphroot = "$deploy_cache/containers/storage"
EOF
  cat >"$work/containers.conf" <<EOF
[containers]
netns = "host"
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$work/events.log"
tmp_dir = "$deploy_cache/containers/tmp"
EOF
  export CONTAINERS_STORAGE_CONF=$work/storage.conf
  export CONTAINERS_CONF=$work/containers.conf
  # Containers go under this shell's own memory cgroup (cgroup v1 side):
  # podman's in cgroups of their own below cgroup_parent; buildah's build
  # steps in cgroup_build itself, a sibling (the devices controller
  # refuses to restrict a cgroup that has children).
  cgroup_base=$(awk -F: '$2=="memory"{print $3}' /proc/self/cgroup)
  cgroup_base=${cgroup_base%/}
  cgroup_parent=$cgroup_base/loka-deploy-run
  cgroup_build=$cgroup_base/loka-deploy-build
}

# containers_cgroups_rmdir: remove the (empty) cgroups the engines left.
# A container's conmon leaves its cgroup a moment after `podman rm`:
# tried again for up to 2 s.
containers_cgroups_rmdir() {
  local d left _
  for _ in $(seq 20); do
    left=
    for d in /sys/fs/cgroup/*"$cgroup_base"/loka-deploy-* /sys/fs/cgroup/*/*"$cgroup_base"/loka-deploy-*; do
      [ -d "$d" ] || continue
      find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
      [ -d "$d" ] && left=1
    done
    [ -z "$left" ] && break
    sleep 0.1
  done
  return 0
}

# base_image: debian:bookworm-slim in the store, from the cached rootfs
# tarball (debootstrap --variant=minbase on a first run, about 30 s).
base_image() {
  local tar=$deploy_cache/bookworm-minbase.tar rootfs
  if [ ! -s "$tar" ]; then
    rootfs=$(mktemp -d "$deploy_cache/rootfs.XXXXXX")
    if ! debootstrap --variant=minbase bookworm "$rootfs" \
        http://deb.debian.org/debian >"$deploy_cache/debootstrap.log" 2>&1; then
      rm -rf "$rootfs"
      echo "debootstrap failed: tail of $deploy_cache/debootstrap.log:"
      tail -n 5 "$deploy_cache/debootstrap.log"
      return 1
    fi
    tar -C "$rootfs" -cf "$tar.part" . && mv "$tar.part" "$tar"
    rm -rf "$rootfs"
  fi
  # Imported again only when the tarball is newer than the image.
  if [ ! -f "$deploy_cache/containers/base.imported" ] ||
      [ "$tar" -nt "$deploy_cache/containers/base.imported" ] ||
      ! podman image exists "$base_tag"; then
    podman import -q "$tar" "$base_tag" >/dev/null || return 1
    touch "$deploy_cache/containers/base.imported"
  fi
}

# build_image LOG: deploy/docker/Dockerfile built as $image_tag.
# --format docker: the OCI format would drop the HEALTHCHECK.
build_image() {
  buildah build --runtime runc --pull=never --network=host --format docker \
    --layers --cgroup-parent "$cgroup_build" \
    -f "$src/deploy/docker/Dockerfile" -t "$image_tag" "$src" >"$1" 2>&1
}

# since T0 T1: seconds from T0 to T1 (date +%s.%N), two decimals.
since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# images_prune LOG: remove the store's untagged images but this build's
# layers (build_image's LOG): what an earlier build of changed sources
# left, so that the cache keeps one build's worth.
images_prune() {
  local keep id
  keep=$(grep -oE '^(--> |--> Using cache )[0-9a-f]{11,}' "$1" | grep -oE '[0-9a-f]{11,}$' | cut -c1-11)
  for id in $(podman images -q --no-trunc --filter dangling=true); do
    id=${id#sha256:}
    grep -qx "${id:0:11}" <<<"$keep" || podman rmi -f "$id" >/dev/null 2>&1
  done
  return 0
}

# free_port: a TCP port free on 127.0.0.1 now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
