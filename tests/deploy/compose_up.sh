#!/usr/bin/env bash
# The compose stack (deploy/compose/compose.yaml) brought up for real:
# dockerd in a network namespace of the test's own (no bridge, no
# firewall rule, no forwarding in the host's), images built outside it
# with buildah and loaded (the image test's Loka; PostgreSQL,
# Prometheus, Alertmanager and a Grafana stand-in from Debian packages:
# tests/deploy/images/, no registry here), then `docker compose up
# --wait` with a test override (the test pool's address, this machine's
# open-file cap) and:
#   - PostgreSQL turns healthy and Loka starts after it, healthy too
#     (the image's HEALTHCHECK, run by dockerd);
#   - only Stratum is published; the others are on the internal network;
#   - simulated miners mine through the published port to the test pool
#     (in the same namespace), and Loka's books in PostgreSQL equal the
#     pool's accepted shares per worker; its journal is in its volume;
#   - Prometheus scrapes Loka (up{job="loka"} == 1) with monitoring's
#     rules loaded, and knows Alertmanager;
#   - `docker compose down -v` stops everything, Loka with exit 0.
# Skips (77) without root, podman, buildah, runc, debootstrap, dockerd,
# the ip and nsenter commands, or Debian 13's compose v2.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
bin_dir=$(dirname "${LOKA_BIN:?}")
python=/usr/bin/python3
containers_need
for t in dockerd docker ip nsenter; do
  command -v "$t" >/dev/null || skip "no $t (scripts/setup.sh installs docker.io)"
done
work=$(mktemp -d /tmp/loka-deploy-up.XXXXXX)
ns=loka-deploy-up-$$
project=lokadeploytest
dockerd_pid= pool_pid=
export DOCKER_HOST=unix://$work/docker.sock
compose() { "$compose2" -p "$project" -f "$src/deploy/compose/compose.yaml" -f "$work/override.yaml" "$@"; }
cleanup() {
  if [ -n "$dockerd_pid" ]; then
    compose down -v -t 20 >/dev/null 2>&1
    kill -TERM "$dockerd_pid" 2>/dev/null
    for _ in $(seq 200); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$dockerd_pid" 2>/dev/null
  fi
  [ -n "$pool_pid" ] && kill "$pool_pid" 2>/dev/null && wait "$pool_pid" 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  # Whatever dockerd left mounted under its data root.
  findmnt -rn -o TARGET | grep "^$work/" | sort -r | xargs -r -n 1 umount -l 2>/dev/null
  containers_cgroups_rmdir
  rm -rf "$work"
}
trap cleanup EXIT
tools=$(bash "$src/scripts/deploy-tools.sh" "$src/build/deploy-tools" 2>"$work/tools.log") ||
  { tail -n 5 "$work/tools.log"; skip "Debian 13's docker-compose (v2) cannot be fetched"; }
compose2=$tools/root/usr/bin/docker-compose
containers_setup "$work"

# --- images, built outside the namespace (it has no way out) --------------
t0=$(date +%s.%N)
if ! podman image exists "$image_tag"; then
  base_image && build_image "$work/build.log" ||
    { notok "building Loka's image:"; tail -n 20 "$work/build.log" 2>/dev/null | sed 's/^/    /'; finish; }
fi
base_image || { notok "the base image"; finish; }
images=(localhost/loka-stratum:0.1.0)
podman tag "$image_tag" localhost/loka-stratum:0.1.0
for pair in postgres=docker.io/library/postgres:15 prometheus=docker.io/prom/prometheus:v2.53.0 \
    alertmanager=docker.io/prom/alertmanager:v0.27.0 grafana=docker.io/grafana/grafana-oss:10.4.0; do
  d=${pair%%=*} tag=${pair#*=}
  grep -q "image: $tag\$" "$src/deploy/compose/compose.yaml" ||
    notok "compose.yaml no longer names $tag: update tests/deploy/compose_up.sh"
  buildah build --runtime runc --pull=never --network=host --format docker --layers \
    --cgroup-parent "$cgroup_build" -t "$tag" "$src/tests/deploy/images/$d" >"$work/build-$d.log" 2>&1 ||
    { notok "building the $d stand-in:"; tail -n 20 "$work/build-$d.log" | sed 's/^/    /'; finish; }
  images+=("$tag")
done
t1=$(date +%s.%N)
echo "# images built in $(since "$t0" "$t1") s"

# --- dockerd in a namespace of its own -------------------------------------
ip netns add "$ns" || { notok "ip netns add"; finish; }
ip -n "$ns" link set lo up
cat >"$work/daemon.json" <<EOF
{
  "data-root": "$work/docker",
  "exec-root": "$work/exec",
  "pidfile": "$work/docker.pid",
  "hosts": ["unix://$work/docker.sock"],
  "bridge": "none",
  "iptables": false,
  "ip6tables": false,
  "ip-forward": false,
  "ip-masq": false,
  "exec-opts": ["native.cgroupdriver=cgroupfs"],
  "cgroup-parent": "$cgroup_base/loka-deploy-docker",
  "default-ulimits": {"nofile": {"Name": "nofile", "Soft": 20000, "Hard": 20000}},
  "log-driver": "json-file",
  "features": {"buildkit": false}
}
EOF
nsenter --net="/run/netns/$ns" dockerd --config-file "$work/daemon.json" >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 100); do docker version >/dev/null 2>&1 && break; sleep 0.1; done
docker version >/dev/null 2>&1 && ok "dockerd runs in the namespace $ns" ||
  { notok "dockerd did not start:"; tail -n 10 "$work/dockerd.log" | sed 's/^/    /'; finish; }
bridges=$(ip -br link show type bridge | wc -l)
t0=$(date +%s.%N)
podman save -m --format docker-archive "${images[@]}" 2>"$work/save.err" | docker load -q >"$work/load.log" 2>&1 ||
  { notok "loading the images:"; cat "$work/save.err" "$work/load.log" | tail -n 10 | sed 's/^/    /'; finish; }
t1=$(date +%s.%N)
echo "# images loaded into dockerd in $(since "$t0" "$t1") s"
# podman names local images localhost/NAME; compose.yaml says NAME.
docker tag localhost/loka-stratum:0.1.0 loka-stratum:0.1.0

# --- the stack, with the test pool in the namespace ------------------------
pool_port=$(free_port)
nsenter --net="/run/netns/$ns" "$bin_dir/loka-poolsim" --bind "0.0.0.0:$pool_port" \
  --port-file "$work/pool.port" --summary "$work/pool.json" --user-prefix acct. \
  --difficulty 0.00002 --log-level warn >"$work/pool.log" 2>&1 &
pool_pid=$!
for _ in $(seq 100); do [ -s "$work/pool.port" ] && break; sleep 0.05; done
# The pool is reached on the edge network's gateway: the namespace's side
# of the bridge compose makes (a fixed subnet inside the namespace).
sed -e 's|^url = "stratum+tcp://pool.example.com:3333"|url = "stratum+tcp://10.213.7.1:'"$pool_port"'"|' \
  -e 's|^username = "my-pool-account"|username = "acct"|' \
  "$src/deploy/compose/loka-stratum.toml" >"$work/loka-stratum.toml"
chmod 0644 "$work/loka-stratum.toml"
grep -q "10.213.7.1:$pool_port" "$work/loka-stratum.toml" || notok "compose's loka-stratum.toml: no pool URL to point at the test pool"
cat >"$work/override.yaml" <<EOF
# tests/deploy/compose_up.sh: the test pool, and this machine's cap of
# 20,000 open files.
services:
  loka:
    volumes:
      - $work/loka-stratum.toml:/etc/loka-stratum/loka-stratum.toml:ro
    ulimits:
      nofile:
        soft: 20000
        hard: 20000
networks:
  edge:
    ipam:
      config:
        - subnet: 10.213.7.0/24
          gateway: 10.213.7.1
EOF
t0=$(date +%s.%N)
if compose up -d --wait --no-build --wait-timeout 180 >"$work/up.log" 2>&1; then
  t1=$(date +%s.%N)
  ok "docker compose up --wait: every service up, healthy where it has a check, in $(since "$t0" "$t1") s"
else
  notok "docker compose up --wait:"; tail -n 15 "$work/up.log" | sed 's/^/    /'
  compose ps -a 2>&1 | sed 's/^/    /'
  compose logs --tail 10 2>&1 | sed 's/^/    /'
  finish
fi
[ "$(ip -br link show type bridge | wc -l)" = "$bridges" ] && ok "no bridge in the host's namespace" ||
  notok "a bridge appeared in the host's namespace"
health() { docker inspect -f '{{.State.Health.Status}}' "$(compose ps -q "$1")"; }
[ "$(health postgres)" = healthy ] && [ "$(health loka)" = healthy ] &&
  ok "postgres healthy (pg_isready), loka healthy (the image's HEALTHCHECK, run by dockerd)" ||
  notok "health: postgres $(health postgres), loka $(health loka)"
pg_started=$(docker inspect -f '{{.State.StartedAt}}' "$(compose ps -q postgres)")
loka_started=$(docker inspect -f '{{.State.StartedAt}}' "$(compose ps -q loka)")
[[ "$loka_started" > "$pg_started" ]] && ok "loka started after postgres" ||
  notok "loka started at $loka_started, postgres at $pg_started"
ports=$(for s in loka postgres prometheus alertmanager grafana; do
  docker inspect -f "$s {{range \$p, \$b := .NetworkSettings.Ports}}{{if \$b}}{{\$p}} {{end}}{{end}}" "$(compose ps -q "$s")"
done | awk 'NF > 1' | tr '\n' ';')
[ "$ports" = "loka 3333/tcp ;" ] && ok "only Stratum is published (loka 3333/tcp)" || notok "published: $ports"

# Miners through the published port (the namespace's loopback).
nsenter --net="/run/netns/$ns" "$bin_dir/loka-minersim" --url stratum+tcp://127.0.0.1:3333 \
  --miners 2 --user 'dave.rig%d' --rate 10 --shares 5 --duration 30 \
  --summary "$work/miners.json" --log-level warn >"$work/miners.log" 2>&1
mrc=$?
accepted=$("$python" -c 'import json, sys; print(json.load(open(sys.argv[1])).get("accepted", 0))' "$work/miners.json" 2>/dev/null)
[ $mrc -eq 0 ] && [ "${accepted:-0}" -eq 10 ] && ok "2 miners through the published port: 10 shares accepted" ||
  { notok "miners: exit $mrc, ${accepted:-?} accepted"; tail -n 5 "$work/miners.log" | sed 's/^/    /'; }
# The books in PostgreSQL, once the store has written them (1 s batches).
books_sql=$("$python" -c 'import os, sys, shutil
sys.path.insert(0, sys.argv[1] + "/tests/e2e")
os.environ.setdefault("LOKA_BIN_DIR", "/")
import loka_e2e
shutil.rmtree(loka_e2e.TMP, ignore_errors=True)
print(loka_e2e.BOOKS_SQL)' "$src")
kill -USR1 "$pool_pid"
for _ in $(seq 50); do [ -s "$work/pool.json" ] && break; sleep 0.1; done
verdict=
for _ in $(seq 30); do
  compose exec -T postgres psql -U loka -d loka -qAt -F '|' -c "$books_sql" >"$work/books.txt" 2>"$work/psql.err"
  verdict=$("$python" - "$work/books.txt" "$work/pool.json" "$src" <<'EOF'
import json, os, shutil, sys
sys.path.insert(0, sys.argv[3] + "/tests/e2e")
os.environ.setdefault("LOKA_BIN_DIR", "/")
import loka_e2e
shutil.rmtree(loka_e2e.TMP, ignore_errors=True)
rows = [r.split("|") for r in open(sys.argv[1]).read().splitlines() if r]
books = loka_e2e._books(rows, "acct.")
pool = loka_e2e.pool_books(json.load(open(sys.argv[2])))
print("equal" if books == pool and books else "books %r, pool %r" % (books, pool))
EOF
)
  [ "$verdict" = equal ] && break
  sleep 0.5
done
[ "$verdict" = equal ] && ok "the books in PostgreSQL equal the test pool's accepted shares per worker" ||
  notok "books in PostgreSQL: $verdict $(head -c 300 "$work/psql.err")"

# Prometheus scrapes Loka, with the rules, and knows Alertmanager.
up=
for _ in $(seq 60); do
  up=$(compose exec -T prometheus promtool query instant http://127.0.0.1:9090 'up{job="loka"}' 2>/dev/null)
  case $up in *'=> 1 @'*) break ;; esac
  sleep 1
done
case $up in *'=> 1 @'*) ok "Prometheus scrapes Loka: up{job=\"loka\"} is 1" ;;
  *) notok "Prometheus: up{job=\"loka\"}: ${up:-nothing}" ;; esac
# With PostgreSQL the journal is $STATE_DIRECTORY/journal: in the volume.
state=$(compose exec -T loka ls /var/lib/loka-stratum 2>&1)
case " $(echo $state) " in *" journal "*) ok "Loka's journal is in its state volume (/var/lib/loka-stratum/journal)" ;;
  *) notok "Loka's state volume holds: $state" ;; esac

# Prometheus' own API, asked from the Grafana stand-in (busybox wget), as
# Grafana would on the internal network.
papi() { compose exec -T grafana busybox wget -qO- "http://prometheus:9090/api/v1/$1" 2>/dev/null; }
groups=$(papi rules | "$python" -c 'import json, sys
print(" ".join(sorted(g["name"] for g in json.load(sys.stdin)["data"]["groups"])))' 2>/dev/null)
want=$("$python" -c 'import sys, yaml
print(" ".join(sorted(g["name"] for g in yaml.safe_load(open(sys.argv[1]))["groups"])))' \
  "$src/monitoring/prometheus/loka-rules.yml")
[ -n "$groups" ] && [ "$groups" = "$want" ] && ok "Prometheus has monitoring's rule groups: $groups" ||
  notok "Prometheus' rule groups: \"$groups\", want \"$want\""
am=$(papi alertmanagers | "$python" -c 'import json, sys
print(" ".join(a["url"] for a in json.load(sys.stdin)["data"]["activeAlertmanagers"]))' 2>/dev/null)
case $am in *alertmanager:9093*) ok "Prometheus sends to Alertmanager ($am)" ;;
  *) notok "Prometheus' Alertmanagers: ${am:-none}" ;; esac
gh=$(compose exec -T grafana busybox wget -qO- http://127.0.0.1:3000/api/health 2>/dev/null)
case $gh in *'"database":"ok"'*) ok "the Grafana stand-in answers /api/health" ;;
  *) notok "Grafana stand-in: ${gh:-no answer}" ;; esac

# Down: SIGTERM, the drain, exit 0.
loka_id=$(compose ps -q loka)
t0=$(date +%s.%N)
compose stop -t 30 loka >/dev/null 2>&1
t1=$(date +%s.%N)
code=$(docker inspect -f '{{.State.ExitCode}}' "$loka_id")
# The whole log first: grep -q on a pipe would end docker logs early
# (SIGPIPE), which pipefail counts as a failure.
loka_log=$(docker logs "$loka_id" 2>&1 || true)
case $loka_log in *'SIGTERM received'*) got_term=1 ;; *) got_term=0 ;; esac
[ "$code" = 0 ] && [ "$got_term" = 1 ] &&
  ok "Loka stops on SIGTERM, exit 0, in $(since "$t0" "$t1") s" ||
  notok "Loka's exit status: $code (SIGTERM in its log: $got_term)"
compose down -v -t 20 >"$work/down.log" 2>&1 && ok "docker compose down -v" ||
  { notok "docker compose down -v:"; tail -n 5 "$work/down.log" | sed 's/^/    /'; }
finish
