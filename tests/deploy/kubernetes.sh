#!/usr/bin/env bash
# The Kubernetes manifests (deploy/kubernetes/), with no cluster:
#   1. kubectl kustomize renders the base and overlays/postgres (kubectl
#      from Debian 13, unpacked by scripts/deploy-tools.sh into
#      build/deploy-tools);
#   2. k8s_check.py checks every rendered object strictly against the
#      Kubernetes API's models (python3-kubernetes, likewise) and what no
#      schema says (probes, security context, selectors, secrets' files,
#      HPA metric, NetworkPolicy);
#   3. the ConfigMap's loka-stratum.toml passes loka-stratum config check
#      with the Secret's files;
#   4. podman kube play runs the Deployment's pod with the image the image
#      test built (tests/deploy/image.sh; built here if missing), on the
#      host's network, against the test pool on loopback: Loka comes up
#      ready, as uid 10001 with no capabilities, no new privileges and a
#      read-only root, the memory limit applied, its instance named after
#      the pod, JSON logs without the token or the pool's password in
#      them; simulated miners mine through it; SIGTERM drains it (exit 0);
#      podman kube down removes it;
#   5. with the test command's PostgreSQL (LOKA_TEST_PG_URL), the pod of
#      overlays/postgres on a database of its own: the URL file read, the
#      books in PostgreSQL equal the test pool's, the journal in the state
#      volume, the password in no log line.
# podman 4.3 cannot do all of a pod: container ports need a bridge (the
# test is on the host's network, so they are dropped), its probe
# conversion is broken (the probes are checked as data in step 2), and
# it writes a Secret volume's values still base64-encoded, so the
# Secret's decoded files are mounted from a host directory instead.
# Skips (77) when Debian 13's packages cannot be fetched, or (after the
# offline checks) without root, podman, buildah, runc or debootstrap.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
bin=${LOKA_BIN:?}
bin_dir=$(dirname "$bin")
python=/usr/bin/python3
"$python" -c 'import yaml' 2>/dev/null || skip "no python3-yaml"

work=$(mktemp -d /tmp/loka-deploy-k8s.XXXXXX)
play=$work/play.yaml
pool_pid=
pg_made=
cleanup() {
  if [ -n "$pg_made" ]; then
    podman kube down "$play" >/dev/null 2>&1
    psql "$LOKA_TEST_PG_URL" -qAt -c "DROP DATABASE IF EXISTS $pgdb" >/dev/null 2>&1
  fi
  if [ -f "$work/play.yaml" ] && [ -n "${CONTAINERS_CONF:-}" ]; then
    play=$work/play.yaml
    podman kube down "$play" >/dev/null 2>&1
    # and the volume podman makes of the ConfigMap
    podman volume rm -f loka-deploy-k8s-state loka-deploy-k8s-tmp \
      "$(awk '/^kind: ConfigMap/ { c = 1 } c && /^  name: / { print $2; exit }' "$play")" >/dev/null 2>&1
    containers_cgroups_rmdir
  fi
  [ -n "$pool_pid" ] && kill "$pool_pid" 2>/dev/null && wait "$pool_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

tools=$(bash "$src/scripts/deploy-tools.sh" "$src/build/deploy-tools" 2>"$work/tools.log") ||
  { tail -n 5 "$work/tools.log"; skip "Debian 13's kubectl and python3-kubernetes cannot be fetched"; }
kubectl=$tools/root/usr/bin/kubectl
models=$tools/root/usr/lib/python3/dist-packages
echo "# $(tr '\n' ',' <"$tools/versions.txt" | sed 's/,$//; s/,/, /g')"

# --- 1, 2. render, check ----------------------------------------------------
for k in base overlays/postgres; do
  out=$work/$(basename "$k").yaml
  if "$kubectl" kustomize "$src/deploy/kubernetes/$k" >"$out" 2>"$work/kustomize.err"; then
    ok "kubectl kustomize deploy/kubernetes/$k: $(grep -c '^kind:' "$out") objects"
  else
    notok "kubectl kustomize deploy/kubernetes/$k:"; sed 's/^/    /' "$work/kustomize.err"; continue
  fi
  "$python" "$src/tests/deploy/k8s_check.py" "$models" "$src" "$out" \
    "$(basename "$k")" >"$work/check.out" 2>&1
  rc=$?
  sed "s|^\(not \)\{0,1\}ok - |&$(basename "$k"): |" "$work/check.out" | grep -v ' passed, '
  [ $rc -eq 0 ] && ok "$k: $(tail -n 1 "$work/check.out")" || notok "$k: $(tail -n 1 "$work/check.out")"
done
[ -s "$work/base.yaml" ] || finish

# --- 3. the ConfigMap's configuration, with the Secret's files -------------
# The rendered objects for the pod, and the Secret's files decoded (their
# values never printed).
# unpack RENDERED DIR: the Secret's files into DIR/secrets, the
# ConfigMap's file into DIR/loka-stratum.toml.
unpack() {
  "$python" - "$1" "$2" <<'EOF'
import base64, os, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
work = sys.argv[2]
os.makedirs(work + "/secrets", exist_ok=True)
for d in docs:
    if d["kind"] == "Secret":
        for k, v in d["data"].items():
            with open("%s/secrets/%s" % (work, k), "wb") as f:
                f.write(base64.b64decode(v))
    if d["kind"] == "ConfigMap":
        with open(work + "/loka-stratum.toml", "w") as f:
            f.write(d["data"]["loka-stratum.toml"])
EOF
}
unpack "$work/base.yaml" "$work"
sed "s|/run/secrets/loka/|$work/secrets/|g" "$work/loka-stratum.toml" >"$work/check.toml"
out=$(LOKA_DATABASE_URL_FILE=$work/secrets/database-url \
  LOKA_METRICS_API_TOKEN_FILE=$work/secrets/api-token \
  LOKA_DATABASE_INSTANCE=loka-stratum-0 "$bin" config check "$work/check.toml" 2>&1)
[ $? -eq 0 ] && ok "loka-stratum config check of the ConfigMap's loka-stratum.toml: $(echo "$out" | head -n 1 | sed "s|$work/||")" ||
  { notok "config check of the ConfigMap's loka-stratum.toml:"; echo "$out" | sed 's/^/    /'; }

# --- 4. podman kube play ---------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then echo "skip: kube play needs root"; [ $fail -eq 0 ] && exit 77; finish; fi
for t in podman buildah runc debootstrap; do
  command -v "$t" >/dev/null ||
    { echo "skip: kube play: no $t"; [ $fail -eq 0 ] && exit 77; finish; }
done
containers_setup "$work"
if ! podman image exists "$image_tag"; then
  base_image && build_image "$work/build.log" ||
    { notok "building the image:"; tail -n 20 "$work/build.log" 2>/dev/null | sed 's/^/    /'; finish; }
fi
pool_port=$(free_port); stratum_port=$(free_port); api_port=$(free_port)
"$bin_dir/loka-poolsim" --bind "127.0.0.1:$pool_port" --port-file "$work/pool.port" \
  --summary "$work/pool.json" --user-prefix acct. --difficulty 0.00002 --log-level warn \
  >"$work/pool.log" 2>&1 &
pool_pid=$!
for _ in $(seq 100); do [ -s "$work/pool.port" ] && break; sleep 0.05; done
# for_podman RENDERED PLAY SECRETS: the objects podman kube play can run,
# with the test's ports and pool, the Secret's files from SECRETS.
for_podman() {
  chown -R 10001:10001 "$3"
  chmod 0550 "$3"; chmod 0440 "$3"/*
  "$python" - "$1" "$2" "$image_tag" "$pool_port" "$stratum_port" "$api_port" "$3" <<'EOF'
import sys, yaml
src, out, image, pool, stratum, api, secrets = sys.argv[1:]
docs = [d for d in yaml.safe_load_all(open(src)) if d]
keep = []
for d in docs:
    if d["kind"] == "ConfigMap":
        t = d["data"]["loka-stratum.toml"]
        # The pod is on the host's network: loopback ports of the test's.
        for a, b in (('bind = "0.0.0.0:3333"', 'bind = "127.0.0.1:%s"' % stratum),
                     ('bind = "0.0.0.0:9090"', 'bind = "127.0.0.1:%s"' % api),
                     ("stratum+tcp://pool.example.com:3333",
                      "stratum+tcp://127.0.0.1:%s" % pool),
                     ('username = "my-pool-account"', 'username = "acct"')):
            assert a in t, a
            t = t.replace(a, b)
        d["data"]["loka-stratum.toml"] = t
        keep.append(d)
    elif d["kind"] == "Deployment":
        d["spec"]["replicas"] = 1    # podman plays every replica
        spec = d["spec"]["template"]["spec"]
        c = spec["containers"][0]
        c["image"] = image
        for k in ("ports", "startupProbe", "livenessProbe", "readinessProbe"):
            c.pop(k, None)
        for v in spec["volumes"]:
            if "secret" in v:
                v.pop("secret")
                v["hostPath"] = {"path": secrets, "type": "Directory"}
            if "emptyDir" in v:    # podman: a named volume
                v["name"] = "loka-deploy-k8s-" + v["name"]
        for m in c["volumeMounts"]:
            if m["name"] in ("state", "tmp"):
                m["name"] = "loka-deploy-k8s-" + m["name"]
        keep.append(d)
yaml.safe_dump_all(keep, open(out, "w"))
EOF
}
for_podman "$work/base.yaml" "$play" "$work/secrets"
podman kube down "$play" >/dev/null 2>&1    # left by a killed run
podman volume rm -f loka-deploy-k8s-state loka-deploy-k8s-tmp >/dev/null 2>&1
# play PLAY WHAT: podman kube play, until Loka is ready; sets ctr, podname.
play() {
  local t0 t1 ready=
  t0=$(date +%s.%N)
  # --build=false: no image is built from a directory named after it.
  if ! (cd "$work" && podman kube play --build=false --network host "$1") >"$work/play.log" 2>&1; then
    notok "$2: podman kube play:"; tail -n 10 "$work/play.log" | sed 's/^/    /'; return 1
  fi
  ctr=$(podman ps -a --format '{{.Names}}' | grep -- '-loka-stratum$' | head -n 1)
  podname=$(podman pod inspect -f '{{.Name}}' "$(podman inspect -f '{{.Pod}}' "$ctr")" 2>/dev/null)
  for _ in $(seq 200); do
    if podman exec "$ctr" loka-stratum health --ready -c /etc/loka-stratum/loka-stratum.toml >/dev/null 2>&1; then
      ready=1; break
    fi
    sleep 0.05
  done
  t1=$(date +%s.%N)
  [ -n "$ready" ] && ok "$2: podman kube play: Loka is ready $(since "$t0" "$t1") s after (pod $podname)" ||
    { notok "$2: podman kube play: Loka never ready"; podman logs "$ctr" 2>&1 | tail -n 15 | sed 's/^/    /'; return 1; }
}
play "$play" "base pod" || finish

pid=$(podman inspect -f '{{.State.Pid}}' "$ctr")
loka=$pid
[ "$(cat "/proc/$pid/comm")" = tini ] && loka=$(cat /proc/"$pid"/task/*/children | awk '{print $1}')
st=/proc/$loka/status
[ "$(cat "/proc/$loka/comm")" = loka-stratum ] && [ "$(awk '/^Uid:/ {print $2 $3 $4 $5}' "$st")" = 10001100011000110001 ] &&
  [ "$(awk '/^Gid:/ {print $2}' "$st")" = 10001 ] &&
  ok "Loka runs as uid 10001, gid 10001 (runAsUser, runAsGroup)" || notok "Loka's user: $(grep -E '^(Uid|Gid):' "$st" | tr '\n' ' ')"
[ "$(awk '/^CapBnd:/ {print $2}' "$st")" = 0000000000000000 ] && [ "$(awk '/^CapEff:/ {print $2}' "$st")" = 0000000000000000 ] &&
  ok "no capabilities, not even in the bounding set (drop ALL)" || notok "capabilities: $(grep ^Cap "$st" | tr '\n' ' ')"
[ "$(awk '/^NoNewPrivs:/ {print $2}' "$st")" = 1 ] && ok "no new privileges (allowPrivilegeEscalation: false)" ||
  notok "NoNewPrivs is $(awk '/^NoNewPrivs:/ {print $2}' "$st")"
[ "$(awk '/^Seccomp:/ {print $2}' "$st")" = 2 ] && ok "under a seccomp filter" || notok "no seccomp filter"
if podman exec "$ctr" /bin/sh -c 'touch /usr/local/bin/x' 2>/dev/null; then notok "the root file system is writable"
else ok "the root file system is read-only (readOnlyRootFilesystem)"; fi
podman exec "$ctr" /bin/sh -c 'touch /var/lib/loka-stratum/x /tmp/x && rm /var/lib/loka-stratum/x /tmp/x' 2>/dev/null &&
  ok "the state volume and /tmp are writable" || notok "the state volume or /tmp is not writable"
mem=$(podman inspect -f '{{.HostConfig.Memory}}' "$ctr")
[ "$mem" = $((512 * 1024 * 1024)) ] && ok "memory limit 512Mi applied" || notok "memory limit: $mem"
podman logs "$ctr" >"$work/loka.log" 2>&1
[ -n "$podname" ] && grep -qF "as instance \\\"$podname\\\"" "$work/loka.log" &&
  ok "the instance is named after the pod ($podname)" ||
  { notok "no instance $podname in Loka's log"; tail -n 5 "$work/loka.log" | sed 's/^/    /'; }
grep -q '"level":"info"' "$work/loka.log" && ok "logs are JSON lines ([logging] format from the ConfigMap)" ||
  notok "logs are not JSON lines"
if grep -qF -f <(cat "$work/secrets/api-token" "$work/secrets/pool-password" | sed '/^$/d') "$work/loka.log"; then
  notok "a secret's value is in Loka's log"
else
  ok "neither the API token nor the pool's password is in Loka's log"
fi

"$bin_dir/loka-minersim" --url "stratum+tcp://127.0.0.1:$stratum_port" --miners 2 \
  --user 'carol.rig%d' --rate 10 --shares 3 --duration 20 --summary "$work/miners.json" \
  --log-level warn >"$work/miners.log" 2>&1
mrc=$?
accepted=$("$python" -c 'import json, sys; print(json.load(open(sys.argv[1])).get("accepted", 0))' "$work/miners.json" 2>/dev/null)
[ $mrc -eq 0 ] && [ "${accepted:-0}" -eq 6 ] && ok "2 miners mine through the pod: 6 shares accepted" ||
  { notok "miners through the pod: exit $mrc, ${accepted:-?} accepted"; tail -n 5 "$work/miners.log" | sed 's/^/    /'; }

# SIGTERM, as the kubelet sends after preStop: drained, exit 0.
t0=$(date +%s.%N)
podman stop -t 30 "$ctr" >/dev/null 2>&1
t1=$(date +%s.%N)
code=$(podman inspect -f '{{.State.ExitCode}}' "$ctr")
podman logs "$ctr" >"$work/loka.log" 2>&1
[ "$code" = 0 ] && grep -q 'SIGTERM received' "$work/loka.log" &&
  ok "SIGTERM: Loka drained and exited 0 in $(since "$t0" "$t1") s" ||
  { notok "SIGTERM: exit status $code"; tail -n 5 "$work/loka.log" | sed 's/^/    /'; }
podman kube down "$play" >"$work/down.log" 2>&1 && ok "podman kube down" ||
  { notok "podman kube down:"; sed 's/^/    /' "$work/down.log"; }
podman volume rm -f loka-deploy-k8s-state loka-deploy-k8s-tmp >/dev/null 2>&1

# --- 5. overlays/postgres, on the test command's PostgreSQL ----------------
# Its pod with the URL file pointing at a database of its own in the test
# cluster (LOKA_TEST_PG_URL, scripts/test.sh), a password in the URL
# (the cluster trusts loopback: any password passes): the books reach
# PostgreSQL, the journal is in the state volume, the password is in no
# log line.
if [ -z "${LOKA_TEST_PG_URL:-}" ] || ! command -v psql >/dev/null || [ ! -s "$work/postgres.yaml" ]; then
  echo "# overlays/postgres not played: no LOKA_TEST_PG_URL (scripts/test.sh sets it) or no psql"
  finish
fi
pgdb=loka_deploy_k8s
pgpw=not-a-real-db-password-$$
pg_url=$(printf '%s' "${LOKA_TEST_PG_URL%/*}" | sed "s|@|:$pgpw@|")/$pgdb
psql "$LOKA_TEST_PG_URL" -qAt -c "DROP DATABASE IF EXISTS $pgdb" -c "CREATE DATABASE $pgdb" >/dev/null 2>"$work/psql.err" ||
  { notok "creating the database $pgdb:"; sed 's/^/    /' "$work/psql.err"; finish; }
pg_made=1
mkdir -p "$work/pg"
unpack "$work/postgres.yaml" "$work/pg"
case $(cat "$work/pg/secrets/database-url") in postgresql://*) ;; *) notok "overlays/postgres: its database-url is not PostgreSQL's" ;; esac
printf '%s\n' "$pg_url" >"$work/pg/secrets/database-url"
play=$work/play-postgres.yaml
for_podman "$work/postgres.yaml" "$play" "$work/pg/secrets"
play "$play" "overlays/postgres pod" || finish
"$bin_dir/loka-minersim" --url "stratum+tcp://127.0.0.1:$stratum_port" --miners 2 \
  --user 'erin.rig%d' --rate 10 --shares 3 --duration 20 --summary "$work/miners-pg.json" \
  --log-level warn >"$work/miners-pg.log" 2>&1 ||
  { notok "overlays/postgres pod: miners through the pod:"; tail -n 5 "$work/miners-pg.log" | sed 's/^/    /'; }
podman stop -t 30 "$ctr" >/dev/null 2>&1
code=$(podman inspect -f '{{.State.ExitCode}}' "$ctr")
podman logs "$ctr" >"$work/loka-pg.log" 2>&1
[ "$code" = 0 ] && ok "overlays/postgres pod: SIGTERM, exit 0" || notok "overlays/postgres pod: exit status $code"
grep -qF "as instance \\\"$podname\\\"; journal in /var/lib/loka-stratum/journal" "$work/loka-pg.log" &&
  ok "overlays/postgres pod: the journal is in the state volume (/var/lib/loka-stratum/journal)" ||
  { notok "overlays/postgres pod: the journal is not in the state volume:"; grep -F 'journal in' "$work/loka-pg.log" | sed 's/^/    /'; }
grep -qF "$pgpw" "$work/loka-pg.log" && notok "overlays/postgres pod: the database password is in Loka's log" ||
  ok "overlays/postgres pod: the database password is in no log line"
kill -USR1 "$pool_pid"; sleep 0.3
"$python" - "$LOKA_TEST_PG_URL" "$pgdb" "$work/pool.json" "$src" <<'EOF' && ok "overlays/postgres pod: the books in PostgreSQL equal the test pool's accepted shares per worker" || notok "overlays/postgres pod: the books in PostgreSQL differ from the pool's"
import json, os, shutil, subprocess, sys
sys.path.insert(0, sys.argv[4] + "/tests/e2e")
os.environ.setdefault("LOKA_BIN_DIR", "/")
import loka_e2e
shutil.rmtree(loka_e2e.TMP, ignore_errors=True)
url = sys.argv[1].rsplit("/", 1)[0] + "/" + sys.argv[2]
books = loka_e2e.books_pg(url)
pool = {k: v for k, v in loka_e2e.pool_books(json.load(open(sys.argv[3]))).items()
        if k.startswith("acct.erin_")}
if not books or books != pool:
    print("    books %r, pool %r" % (books, pool))
    sys.exit(1)
EOF
podman kube down "$play" >/dev/null 2>&1
finish
