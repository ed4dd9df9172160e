#!/usr/bin/env bash
# The container image (deploy/docker/Dockerfile), built and run for real:
#   1. the Dockerfile passes dockerfile-utils lint (npm, pinned in
#      tests/deploy/npm/package-lock.json);
#   2. buildah builds it on a debian:bookworm-slim made with debootstrap
#      (lib.sh), in the docker format (which keeps the HEALTHCHECK);
#   3. podman runs it with --network=host, a read-only root file system and
#      a named volume for the state, against the test pool (loka-poolsim)
#      on loopback: the health check passes (`podman healthcheck run`, the
#      image's own HEALTHCHECK: `loka-stratum health`), PID 1 is tini and
#      Loka runs as uid 10001, simulated miners complete the Stratum
#      handshake and get their shares accepted through it, the books in the
#      volume equal the pool's count, and SIGTERM drains and exits 0 within
#      the drain time.
# The image's size and start time are printed for docs/deployment.md.
# Skips (77) without root, podman, buildah, runc, debootstrap or npm.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
bin_dir=$(dirname "${LOKA_BIN:?}")
containers_need
command -v npm >/dev/null || skip "no npm (scripts/setup.sh installs it)"

name=loka-deploy-image-test
volume=loka-deploy-image-state
work=$(mktemp -d /tmp/loka-deploy-image.XXXXXX)
pool_pid= miner_pid=
cleanup() {
  [ -n "$miner_pid" ] && kill "$miner_pid" 2>/dev/null
  podman rm -f -t 0 "$name" >/dev/null 2>&1
  podman volume rm -f "$volume" >/dev/null 2>&1
  [ -n "$pool_pid" ] && kill "$pool_pid" 2>/dev/null && wait "$pool_pid" 2>/dev/null
  containers_cgroups_rmdir
  rm -rf "$work"
}
trap cleanup EXIT
containers_setup "$work"
podman rm -f -t 0 "$name" >/dev/null 2>&1    # left by a killed run
podman volume rm -f "$volume" >/dev/null 2>&1

# --- 1. lint ---------------------------------------------------------------
npm_dir=$deploy_cache/npm
if ! cmp -s "$src/tests/deploy/npm/package-lock.json" "$npm_dir/package-lock.json" ||
    [ ! -x "$npm_dir/node_modules/.bin/dockerfile-utils" ]; then
  mkdir -p "$npm_dir"
  cp "$src/tests/deploy/npm/package.json" "$src/tests/deploy/npm/package-lock.json" "$npm_dir/"
  (cd "$npm_dir" && npm ci --ignore-scripts --no-audit --no-fund >"$work/npm.log" 2>&1) ||
    { cat "$work/npm.log"; notok "npm ci of the test tools"; finish; }
fi
out=$("$npm_dir/node_modules/.bin/dockerfile-utils" lint "$src/deploy/docker/Dockerfile" 2>&1)
if [ $? -eq 0 ] && [ -z "$out" ]; then ok "dockerfile-utils lint: nothing to say"
else notok "dockerfile-utils lint:"; echo "$out" | sed 's/^/    /'; fi
if grep -q '^# *syntax=' "$src/deploy/docker/Dockerfile"; then
  notok "the Dockerfile has a # syntax= line (BuildKit would pull it)"
fi
[ "$(grep -c '^FROM docker.io/library/debian:bookworm-slim' "$src/deploy/docker/Dockerfile")" -eq 2 ] &&
  ok "both stages FROM docker.io/library/debian:bookworm-slim" ||
  notok "both stages should be FROM docker.io/library/debian:bookworm-slim"

# --- 2. build --------------------------------------------------------------
t0=$(date +%s.%N)
if ! base_image; then notok "the base image from debootstrap"; finish; fi
t1=$(date +%s.%N)
if build_image "$work/build.log"; then
  ok "buildah builds the image"
else
  notok "buildah build:"; tail -n 30 "$work/build.log" | sed 's/^/    /'; finish
fi
t2=$(date +%s.%N)
images_prune "$work/build.log"
echo "# base image $(since "$t0" "$t1") s, image build $(since "$t1" "$t2") s"
size=$(podman image inspect -f '{{.Size}}' "$image_tag")
base_size=$(podman image inspect -f '{{.Size}}' "$base_tag")
awk -v s="$size" -v b="$base_size" 'BEGIN { printf "# image %.1f MB: %.1f MB on top of the base image\n", s / 1e6, (s - b) / 1e6 }'
hc=$(podman image inspect -f '{{json .Config.Healthcheck.Test}}' "$image_tag")
case $hc in
  *'"loka-stratum","health"'*) ok "the image has its HEALTHCHECK: $hc" ;;
  *) notok "the image's HEALTHCHECK: $hc" ;;
esac
user=$(podman image inspect -f '{{.Config.User}}' "$image_tag")
[ "$user" = 10001:10001 ] && ok "the image runs as 10001:10001" || notok "the image's user: $user"
# The runtime stage holds the binary and libraries, no compiler.
if podman run --rm --network=host --cgroup-parent "$cgroup_parent" \
    --entrypoint /bin/sh "$image_tag" -c 'command -v cc || command -v cmake || test -d /src' >/dev/null 2>&1; then
  notok "the runtime image has build tools or the sources"
else
  ok "the runtime image has no compiler, cmake or sources"
fi

# --- 3. run ----------------------------------------------------------------
pool_port=$(free_port); stratum_port=$(free_port); api_port=$(free_port)
"$bin_dir/loka-poolsim" --bind "127.0.0.1:$pool_port" --port-file "$work/pool.port" \
  --summary "$work/pool.json" --user-prefix acct. --difficulty 0.00002 --log-level warn >"$work/pool.log" 2>&1 &
pool_pid=$!
for _ in $(seq 100); do [ -s "$work/pool.port" ] && break; sleep 0.05; done
podman volume create "$volume" >/dev/null
# The configuration and the pool's password come in as files, as a
# ConfigMap and a Secret would; the listeners from the environment.
cat >"$work/loka-stratum.toml" <<EOF
[server]
bind = "0.0.0.0:3333"

[metrics]
bind = "0.0.0.0:9090"

[database]
url = "sqlite:///var/lib/loka-stratum/loka.db"

[[pools]]
name = "main"
url = "stratum+tcp://127.0.0.1:$pool_port"
username = "acct"
password_file = "/run/secrets/pool-password"
EOF
echo "not-a-real-password" >"$work/pool-password"
chmod 0644 "$work/loka-stratum.toml" "$work/pool-password"
t0=$(date +%s.%N)
podman run -d --name "$name" --network=host --read-only \
  --cgroup-parent "$cgroup_parent" \
  -v "$volume:/var/lib/loka-stratum" \
  -v "$work/loka-stratum.toml:/etc/loka-stratum/loka-stratum.toml:ro" \
  -v "$work/pool-password:/run/secrets/pool-password:ro" \
  -e LOKA_SERVER_BIND="127.0.0.1:$stratum_port" \
  -e LOKA_METRICS_BIND="127.0.0.1:$api_port" \
  -e LOKA_SERVER_SHUTDOWN_TIMEOUT=10s \
  "$image_tag" >/dev/null 2>"$work/run.err" ||
  { notok "podman run:"; sed 's/^/    /' "$work/run.err"; finish; }
healthy=
for _ in $(seq 200); do
  if podman healthcheck run "$name" >/dev/null 2>&1; then healthy=1; break; fi
  sleep 0.05
done
t1=$(date +%s.%N)
if [ -n "$healthy" ]; then
  ok "podman healthcheck run: healthy"
  echo "# healthy $(since "$t0" "$t1") s after podman run"
else
  notok "podman healthcheck run: never healthy"; podman logs "$name" 2>&1 | tail -n 20 | sed 's/^/    /'
fi

pid1=$(podman inspect -f '{{.State.Pid}}' "$name")
comm1=$(cat "/proc/$pid1/comm" 2>/dev/null)
[ "$comm1" = tini ] && ok "PID 1 in the container is tini" || notok "PID 1 is \"$comm1\", not tini"
child=$(cat /proc/"$pid1"/task/*/children 2>/dev/null | awk '{print $1}')
ccomm=$(cat "/proc/$child/comm" 2>/dev/null)
cuid=$(awk '/^Uid:/ {print $2 "," $3 "," $4 "," $5}' "/proc/$child/status" 2>/dev/null)
[ "$ccomm" = loka-stratum ] && [ "$cuid" = 10001,10001,10001,10001 ] &&
  ok "Loka is tini's child, running as uid 10001 (real, effective, saved, fs)" ||
  notok "tini's child: \"$ccomm\" uid $cuid"
capeff=$(awk '/^CapEff:/ {print $2}' "/proc/$child/status" 2>/dev/null)
[ "$capeff" = 0000000000000000 ] && ok "Loka has no effective capabilities" ||
  notok "Loka's effective capabilities: $capeff"
if podman exec "$name" /bin/sh -c 'touch /usr/local/bin/x' 2>/dev/null; then
  notok "the root file system is writable"
else
  ok "the root file system is read-only"
fi
ro=$(podman inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$name")
[ "$ro" = true ] || notok "podman inspect: ReadonlyRootfs is $ro"

"$bin_dir/loka-minersim" --url "stratum+tcp://127.0.0.1:$stratum_port" --miners 2 \
  --user 'alice.rig%d' --rate 10 --shares 5 --duration 20 --summary "$work/miners.json" \
  --log-level warn >"$work/miners.log" 2>&1
mrc=$?
read -r handshakes accepted < <(python3 -c 'import json, sys
s = json.load(open(sys.argv[1])); print(s.get("handshakes", 0), s.get("accepted", 0))' "$work/miners.json" 2>/dev/null)
if [ $mrc -eq 0 ] && [ "${handshakes:-0}" -eq 2 ] && [ "${accepted:-0}" -eq 10 ]; then
  ok "2 miners completed the Stratum handshake through the container; 10 shares accepted"
else
  notok "miners through the container: exit $mrc, ${handshakes:-?} handshakes, ${accepted:-?} accepted"
  sed 's/^/    /' "$work/miners.log" | tail -n 10
fi
ready=$(podman exec "$name" loka-stratum health --ready -c /etc/loka-stratum/loka-stratum.toml 2>&1)
case $ready in *'"ready"'*) ok "loka-stratum health --ready in the container: ready" ;;
  *) notok "health --ready: $ready" ;; esac

# SIGTERM (what podman stop, docker stop and the kubelet send) to tini,
# with a miner connected and submitting.
"$bin_dir/loka-minersim" --url "stratum+tcp://127.0.0.1:$stratum_port" --miners 1 \
  --user 'bob.rig%d' --rate 10 --duration 60 --allow-failures --log-level warn \
  >"$work/miner-term.log" 2>&1 &
miner_pid=$!
curl_metric() {
  python3 -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1" 2>/dev/null
}
for _ in $(seq 100); do
  curl_metric "http://127.0.0.1:$api_port/metrics" | grep -q '^loka_connections_active 1' && break
  sleep 0.1
done
t0=$(date +%s.%N)
podman kill --signal TERM "$name" >/dev/null
code=$(timeout 30 podman wait "$name" 2>/dev/null)
t1=$(date +%s.%N)
took=$(since "$t0" "$t1")
if [ "$code" = 0 ] && awk -v t="$took" 'BEGIN { exit !(t < 12) }'; then
  ok "SIGTERM: exit 0 in $took s (drain time 10 s)"
else
  notok "SIGTERM: exit status \"$code\" after $took s"
  podman logs "$name" 2>&1 | tail -n 10 | sed 's/^/    /'
fi
kill "$miner_pid" 2>/dev/null; wait "$miner_pid" 2>/dev/null
podman logs "$name" >"$work/loka.log" 2>&1
grep -q 'SIGTERM received: no new miners' "$work/loka.log" && grep -q '\[main\] stopped' "$work/loka.log" &&
  ok "Loka logged SIGTERM, drained its miner and stopped" ||
  { notok "no drain and stop in Loka's log"; tail -n 10 "$work/loka.log" | sed 's/^/    /'; }

# The books and journal are in the volume; the pool's count equals them.
kill -TERM "$pool_pid"; wait "$pool_pid" 2>/dev/null; pool_pid=
vdir=$(podman volume inspect -f '{{.Mountpoint}}' "$volume")
ls "$vdir" >"$work/volume.txt" 2>&1
if [ -s "$vdir/loka.db" ]; then ok "the SQLite books are in the volume ($(tr '\n' ' ' <"$work/volume.txt"))"
else notok "no loka.db in the volume: $(tr '\n' ' ' <"$work/volume.txt")"; fi
verdict=$(python3 - "$vdir/loka.db" "$work/pool.json" "$src" <<'EOF'
import json, sqlite3, sys
sys.path.insert(0, sys.argv[3] + "/tests/e2e")
import os, shutil
os.environ.setdefault("LOKA_BIN_DIR", "/")
import loka_e2e
from loka_e2e import BOOKS_SQL, _books, pool_books
shutil.rmtree(loka_e2e.TMP, ignore_errors=True)
with sqlite3.connect(sys.argv[1]) as db:
    books = _books(db.execute(BOOKS_SQL), "acct.")
pool = pool_books(json.load(open(sys.argv[2])))
print("equal" if books == pool and books else "books %r pool %r" % (books, pool))
EOF
)
[ "$verdict" = equal ] && ok "the books in the volume equal the test pool's accepted shares per worker" ||
  notok "books and pool differ: $verdict"
finish
