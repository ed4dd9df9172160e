#!/usr/bin/env bash
# The systemd unit (deploy/systemd/loka-stratum.service) really run by
# systemd, in a container whose PID 1 is systemd:
#   1. an image FROM the debootstrap debian:bookworm-slim (lib.sh) with
#      systemd, procps (ExecReload's /bin/kill) and Loka's runtime
#      libraries from the Debian archive (tests/deploy/images/systemd/), and
#      this build's loka-stratum, the unit as committed and a
#      configuration installed by the install steps of the unit's header,
#      run as written (install.sh) but for the last one: no systemd runs
#      during an image build, so `systemctl daemon-reload && systemctl
#      enable --now` becomes `systemctl enable`, and the boot starts it;
#      cached in build/deploy/ like the other images;
#   2. `podman run --systemd=always --network=host`, the configuration
#      (pool: the test pool loka-poolsim on loopback; Loka and its API on
#      free loopback ports) mounted over the installed one, 0640
#      root:loka-stratum; systemd starts the enabled unit at boot:
#      `systemctl is-active` says active; `systemctl show` has the user,
#      the hardening and the limits; the kernel's view of the main process
#      (/proc/PID/status, its namespaces and mounts) has them in force:
#      the loka-stratum uid, no capabilities, no new privileges, a seccomp
#      filter, its own user, mount and UTS namespaces, a read-only root
#      with the state directory writable; StateDirectory
#      /var/lib/loka-stratum belongs to loka-stratum, mode 0750, and
#      /etc/loka-stratum is root:loka-stratum 0750; systemd logs nothing
#      about the unit but Starting and Started (no skipped sandbox, no
#      directory unlike the unit's mode);
#   3. simulated miners (loka-minersim) get their shares accepted through
#      it and the books are written in the state directory;
#   4. `systemctl reload` (ExecReload: SIGHUP) leaves the same process
#      active, and Loka logged the SIGHUP (journalctl);
#   5. `systemctl stop` (SIGTERM) with a miner connected: Loka drains and
#      exits 0 (Result=success, ExecMainStatus=0), and its journal has the
#      drain and "stopped".
# About 5 s once cached, 40 s from nothing (debootstrap most of it).
# The container runs with podman's default capabilities (no
# --privileged, no --cap-add). Adding CAP_SYS_ADMIN would break the unit
# (217/USER, "Failed to set up user namespacing", from PrivateUsers= with
# ProtectProc=invisible): systemd 252 then sets the sandbox up in another
# order, and its helper that writes the user namespace's maps cannot find
# the service in the hidepid /proc without CAP_SYS_PTRACE as well
# (systemd issue 29656). On a host, PID 1 has every capability.
# The open-files limit in force is the container's hard limit (20,000
# here, no CAP_SYS_RESOURCE); systemctl show has the unit's.
# Skips (77) without root, podman, buildah, runc or debootstrap.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
bin_dir=$(dirname "${LOKA_BIN:?}")
containers_need

name=loka-deploy-systemd-test
sys_tag=localhost/loka-stratum-systemd:test
work=$(mktemp -d /tmp/loka-deploy-systemd.XXXXXX)
pool_pid= miner_pid=
cleanup() {
  [ -n "$miner_pid" ] && kill "$miner_pid" 2>/dev/null
  podman rm -f -t 0 "$name" >/dev/null 2>&1
  [ -n "$pool_pid" ] && kill "$pool_pid" 2>/dev/null && wait "$pool_pid" 2>/dev/null
  containers_cgroups_rmdir
  rm -rf "$work"
}
trap cleanup EXIT
containers_setup "$work"
podman rm -f -t 0 "$name" >/dev/null 2>&1    # left by a killed run
t_start=$(date +%s.%N)

# --- 1. the image ------------------------------------------------------------
unit=$src/deploy/systemd/loka-stratum.service
# The header's install steps: its "#   " lines (continuations included).
sed -n 's/^#   //p' "$unit" >"$work/steps.sh"
last='systemctl daemon-reload && systemctl enable --now loka-stratum'
if ! grep -qxF "$last" "$work/steps.sh" || ! grep -q '^useradd ' "$work/steps.sh" ||
    ! grep -q '^install .*deploy/systemd/loka-stratum.service /etc/systemd/system/' "$work/steps.sh"; then
  notok "the unit's header lacks its install steps (useradd, install, \"$last\"):"
  sed 's/^/    /' "$work/steps.sh"; finish
fi
# The build context, laid out as the steps expect; kept between runs so
# that an unchanged binary hits the layer cache.
ctx=$deploy_cache/systemd-context
mkdir -p "$ctx/build/release" "$ctx/deploy/systemd"
put() { cmp -s "$1" "$2" || cp "$1" "$2"; }
grep -vxF "$last" "$work/steps.sh" >"$work/install.sh"
echo 'systemctl enable loka-stratum' >>"$work/install.sh"
put "$work/install.sh" "$ctx/install.sh"
put "$LOKA_BIN" "$ctx/build/release/loka-stratum"
put "$unit" "$ctx/deploy/systemd/loka-stratum.service"
# What the image is installed with; the run mounts its own over it.
cat >"$work/loka-stratum.toml" <<'EOF'
[server]
bind = "127.0.0.1:3333"

[metrics]
bind = "127.0.0.1:9090"
EOF
put "$work/loka-stratum.toml" "$ctx/loka-stratum.toml"

t0=$(date +%s.%N)
if ! base_image; then notok "the base image from debootstrap"; finish; fi
t1=$(date +%s.%N)
if buildah build --runtime runc --pull=never --network=host --format docker \
    --layers --cgroup-parent "$cgroup_build" \
    -f "$src/tests/deploy/images/systemd/Dockerfile" -t "$sys_tag" "$ctx" \
    >"$work/build.log" 2>&1; then
  ok "buildah builds the systemd image (the unit's install steps: $(wc -l <"$work/install.sh") lines)"
else
  notok "buildah build:"; tail -n 30 "$work/build.log" | sed 's/^/    /'; finish
fi
t2=$(date +%s.%N)
images_prune "$work/build.log"
echo "# base image $(since "$t0" "$t1") s, systemd image build $(since "$t1" "$t2") s"

# --- 2. boot -------------------------------------------------------------------
# The service user's ids, from the image: the configuration is
# root:loka-stratum 0640, as the install steps make it.
read -r luid lgid < <(podman run --rm --network=host --cgroup-parent "$cgroup_parent" \
  "$sys_tag" sh -c 'echo "$(id -u loka-stratum) $(id -g loka-stratum)"' 2>/dev/null)
if [ -z "${lgid:-}" ]; then notok "no loka-stratum user in the image"; finish; fi
ok "the image has the system user loka-stratum (uid $luid, gid $lgid)"

pool_port=$(free_port); stratum_port=$(free_port); api_port=$(free_port)
"$bin_dir/loka-poolsim" --bind "127.0.0.1:$pool_port" --port-file "$work/pool.port" \
  --summary "$work/pool.json" --user-prefix acct. --difficulty 0.00002 --log-level warn >"$work/pool.log" 2>&1 &
pool_pid=$!
for _ in $(seq 100); do [ -s "$work/pool.port" ] && break; sleep 0.05; done
cat >"$work/loka-stratum.toml" <<EOF
[server]
bind = "127.0.0.1:$stratum_port"
shutdown_timeout = "5s"

[metrics]
bind = "127.0.0.1:$api_port"

[[pools]]
name = "main"
url = "stratum+tcp://127.0.0.1:$pool_port"
username = "acct"
EOF
chown "0:$lgid" "$work/loka-stratum.toml"; chmod 0640 "$work/loka-stratum.toml"

t0=$(date +%s.%N)
podman run -d --name "$name" --systemd=always --network=host \
  --cgroup-parent "$cgroup_parent" \
  -v "$work/loka-stratum.toml:/etc/loka-stratum/loka-stratum.toml:ro" \
  "$sys_tag" >/dev/null 2>"$work/run.err" ||
  { notok "podman run:"; sed 's/^/    /' "$work/run.err"; finish; }
in_c() { podman exec "$name" "$@"; }
state=
for _ in $(seq 300); do
  state=$(in_c systemctl is-active loka-stratum 2>/dev/null)
  [ "$state" = active ] && break
  sleep 0.1
done
t1=$(date +%s.%N)
pid1=$(in_c cat /proc/1/comm 2>/dev/null)
[ "$pid1" = systemd ] && ok "PID 1 in the container is systemd" || notok "PID 1 is \"$pid1\""
if [ "$state" = active ]; then
  ok "systemctl is-active loka-stratum: active, $(since "$t0" "$t1") s after podman run"
else
  notok "systemctl is-active loka-stratum: \"$state\""
  in_c systemctl status --no-pager loka-stratum 2>&1 | sed 's/^/    /'
  in_c journalctl --no-pager -b -n 30 2>&1 | sed 's/^/    /'
  podman logs "$name" 2>&1 | tail -n 20 | sed 's/^/    /'
  finish
fi
enabled=$(in_c systemctl is-enabled loka-stratum 2>&1)
[ "$enabled" = enabled ] && ok "systemctl is-enabled: enabled (started by the boot)" ||
  notok "systemctl is-enabled: $enabled"
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$stratum_port") 2>/dev/null && break
  sleep 0.05
done

# What systemd was told, and what the kernel says of the main process.
props=$(in_c systemctl show loka-stratum -p MainPID,User,Group,NoNewPrivileges,ProtectSystem,ProtectHome,PrivateTmp,PrivateDevices,PrivateUsers,CapabilityBoundingSet,LimitNOFILE,StateDirectory,StateDirectoryMode,UMask 2>&1)
prop() { sed -n "s/^$1=//p" <<<"$props"; }
want() {
  local got; got=$(prop "$1")
  [ "$got" = "$2" ] && ok "systemctl show: $1=$got" || notok "systemctl show: $1=\"$got\", want \"$2\""
}
want User loka-stratum
want Group loka-stratum
want NoNewPrivileges yes
want ProtectSystem strict
want ProtectHome yes
want PrivateTmp yes
want PrivateDevices yes
want PrivateUsers yes
want CapabilityBoundingSet ""
want StateDirectory loka-stratum
want StateDirectoryMode 0750
want UMask 0027
# systemd raises the limit as far as the container's hard limit allows
# (20,000 here: no CAP_SYS_RESOURCE); the configured value stays.
want LimitNOFILE 1048576
mpid=$(prop MainPID)
status=$(in_c cat "/proc/$mpid/status" 2>/dev/null)
field() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' <<<"$status"; }
comm=$(field Name)
[ "$comm" = loka-stratum ] && ok "MainPID $mpid is loka-stratum" || notok "MainPID $mpid is \"$comm\""
uids=$(field Uid | tr -s ' \t' ' '); gids=$(field Gid | tr -s ' \t' ' ')
[ "$uids" = "$luid $luid $luid $luid" ] && [ "$gids" = "$lgid $lgid $lgid $lgid" ] &&
  ok "it runs as loka-stratum: uid $luid, gid $lgid (real, effective, saved, fs)" ||
  notok "its uids \"$uids\", gids \"$gids\"; want $luid and $lgid"
[ "$(field NoNewPrivs)" = 1 ] && ok "the kernel: no new privileges" || notok "NoNewPrivs: $(field NoNewPrivs)"
[ "$(field Seccomp)" = 2 ] && ok "the kernel: a seccomp filter (SystemCallFilter)" || notok "Seccomp: $(field Seccomp)"
[ "$(field CapBnd)" = 0000000000000000 ] && [ "$(field CapEff)" = 0000000000000000 ] &&
  ok "the kernel: no capabilities, bounding set empty" ||
  notok "CapBnd $(field CapBnd), CapEff $(field CapEff)"
limit=$(in_c awk '/^Max open files/ { print $4 " " $5 }' "/proc/$mpid/limits" 2>/dev/null)
echo "# open files in force (soft hard): $limit"
for ns in mnt user uts; do
  a=$(in_c readlink "/proc/1/ns/$ns" 2>/dev/null); b=$(in_c readlink "/proc/$mpid/ns/$ns" 2>/dev/null)
  [ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$b" ] &&
    ok "its own $ns namespace (PID 1: $a, Loka: $b)" || notok "$ns namespace: PID 1 $a, Loka $b"
done
# The options of the mount a path is on: the longest mount point above
# it, the last one mounted there.
mnt_opts() {
  awk -v p="$1" '{ m = $5 }
    m == p || m == "/" || index(p, m "/") == 1 { if (length(m) >= best) { best = length(m); o = $6 } }
    END { print o }' <<<"$mounts"
}
mounts=$(in_c cat "/proc/$mpid/mountinfo" 2>/dev/null)
for m in / /usr /etc /var/lib/loka-stratum /tmp /home; do
  o=$(mnt_opts "$m")
  case $m,$o in
    /var/lib/loka-stratum,rw*|/tmp,rw*) ok "its $m is writable ($o)" ;;
    /var/lib/loka-stratum,*|/tmp,*) notok "its $m: \"$o\", want writable" ;;
    *,ro*) ok "its $m is read-only ($o)" ;;
    *) notok "its $m: \"$o\", want read-only" ;;
  esac
done
st=$(in_c stat -c '%U:%G %a' /etc/loka-stratum 2>&1)
[ "$st" = "root:loka-stratum 750" ] && ok "ConfigurationDirectory /etc/loka-stratum: $st (the install steps' and the unit's mode)" ||
  notok "/etc/loka-stratum: $st"
st=$(in_c stat -c '%U:%G %a' /var/lib/loka-stratum 2>&1)
[ "$st" = "loka-stratum:loka-stratum 750" ] && ok "StateDirectory /var/lib/loka-stratum: $st" ||
  notok "/var/lib/loka-stratum: $st"
# systemd's own messages about the unit are in its journal too.
in_c journalctl --no-pager -u loka-stratum -o cat >"$work/unit.log" 2>&1
# Its lines are those without Loka's timestamp: any notice is a finding
# (a skipped sandbox: "assuming containerized execution"; a directory
# unlike the unit's mode).
grep -v '^[0-9]\{4\}-[0-9][0-9]-' "$work/unit.log" |
  grep -v '^Start\(ing\|ed\) loka-stratum.service' >"$work/systemd.log"
if [ -s "$work/systemd.log" ]; then
  notok "systemd said about the unit:"; sed 's/^/    /' "$work/systemd.log"
else
  ok "systemd said nothing about the unit but Starting and Started"
fi

# --- 3. miners -----------------------------------------------------------------
"$bin_dir/loka-minersim" --url "stratum+tcp://127.0.0.1:$stratum_port" --miners 2 \
  --user 'alice.rig%d' --rate 10 --shares 5 --duration 20 --summary "$work/miners.json" \
  --log-level warn >"$work/miners.log" 2>&1
mrc=$?
read -r handshakes accepted < <(python3 -c 'import json, sys
s = json.load(open(sys.argv[1])); print(s.get("handshakes", 0), s.get("accepted", 0))' "$work/miners.json" 2>/dev/null)
if [ $mrc -eq 0 ] && [ "${handshakes:-0}" -eq 2 ] && [ "${accepted:-0}" -eq 10 ]; then
  ok "2 miners completed the Stratum handshake through the service; 10 shares accepted"
else
  notok "miners through the service: exit $mrc, ${handshakes:-?} handshakes, ${accepted:-?} accepted"
  sed 's/^/    /' "$work/miners.log" | tail -n 10
fi
db=$(in_c stat -c '%U %s' /var/lib/loka-stratum/loka.db 2>&1)
case $db in loka-stratum\ [1-9]*) ok "the books: /var/lib/loka-stratum/loka.db (owner, bytes: $db)" ;;
  *) notok "/var/lib/loka-stratum/loka.db: $db" ;; esac

# --- 4. reload -----------------------------------------------------------------
if in_c systemctl reload loka-stratum >"$work/reload.err" 2>&1; then
  ok "systemctl reload loka-stratum"
else
  notok "systemctl reload:"; sed 's/^/    /' "$work/reload.err"
fi
sleep 0.3
state=$(in_c systemctl is-active loka-stratum 2>&1)
mpid2=$(in_c systemctl show -p MainPID --value loka-stratum 2>&1)
[ "$state" = active ] && [ "$mpid2" = "$mpid" ] && ok "after reload: active, the same MainPID $mpid" ||
  notok "after reload: \"$state\", MainPID $mpid2 (was $mpid)"
in_c journalctl --no-pager -u loka-stratum -o cat >"$work/unit.log" 2>&1
grep -q 'SIGHUP received' "$work/unit.log" && ok "Loka logged the SIGHUP (journalctl -u loka-stratum)" ||
  { notok "no SIGHUP in the unit's journal"; tail -n 10 "$work/unit.log" | sed 's/^/    /'; }

# --- 5. stop -------------------------------------------------------------------
# With a miner connected and submitting: SIGTERM drains it (up to the
# configuration's 5 s shutdown_timeout), well within TimeoutStopSec.
"$bin_dir/loka-minersim" --url "stratum+tcp://127.0.0.1:$stratum_port" --miners 1 \
  --user 'bob.rig%d' --rate 10 --duration 60 --allow-failures --log-level warn \
  >"$work/miner-stop.log" 2>&1 &
miner_pid=$!
for _ in $(seq 100); do
  python3 -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
    "http://127.0.0.1:$api_port/metrics" 2>/dev/null | grep -q '^loka_connections_active 1' && break
  sleep 0.1
done
t0=$(date +%s.%N)
in_c systemctl stop loka-stratum >"$work/stop.err" 2>&1 ||
  { notok "systemctl stop:"; sed 's/^/    /' "$work/stop.err"; }
t1=$(date +%s.%N)
kill "$miner_pid" 2>/dev/null; wait "$miner_pid" 2>/dev/null; miner_pid=
end=$(in_c systemctl show loka-stratum -p ActiveState,Result,ExecMainCode,ExecMainStatus 2>&1 | sort | tr '\n' ' ')
end=${end% }
# ExecMainCode 1: CLD_EXITED, the process exited by itself.
[ "$end" = "ActiveState=inactive ExecMainCode=1 ExecMainStatus=0 Result=success" ] &&
  ok "systemctl stop with a miner connected: exit 0 in $(since "$t0" "$t1") s ($end)" ||
  notok "systemctl stop after $(since "$t0" "$t1") s: $end"
in_c journalctl --no-pager -u loka-stratum -o cat >"$work/unit.log" 2>&1
grep -q 'SIGTERM received: no new miners' "$work/unit.log" && grep -q '\[main\] stopped' "$work/unit.log" &&
  ok "Loka logged SIGTERM, drained and stopped (journalctl -u loka-stratum)" ||
  { notok "no drain and stop in the unit's journal"; tail -n 10 "$work/unit.log" | sed 's/^/    /'; }
echo "# the run took $(since "$t_start" "$(date +%s.%N)") s"
finish
