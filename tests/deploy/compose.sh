#!/usr/bin/env bash
# The compose stack (deploy/compose/compose.yaml), without a daemon:
#   1. docker-compose config -q accepts it: Debian 12's 1.29 and compose v2
#      (Debian 13's, unpacked by scripts/deploy-tools.sh);
#   2. the normalised file (compose v2's `config`) says what compose.yaml
#      promises: only Stratum published; PostgreSQL, Prometheus,
#      Alertmanager and Grafana on an internal network only; Loka starts
#      once PostgreSQL's healthcheck passes, as uid 10001, read-only, no
#      capabilities, no new privileges; every service has memory and CPU
#      limits; every secret is a file that exists;
#   3. its Prometheus configuration passes promtool with monitoring's
#      rules beside it, and scrapes loka:9090 as job "loka" (the rules'
#      selector); its loka-stratum.toml passes loka-stratum config check
#      with the secrets' files.
# tests/deploy/compose_up.sh brings the stack up for real.
# Skips (77) without docker-compose, or when Debian 13's compose v2 cannot
# be fetched.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
bin=${LOKA_BIN:?}
python=/usr/bin/python3
dir=$src/deploy/compose
command -v docker-compose >/dev/null || skip "no docker-compose (scripts/setup.sh installs it)"
"$python" -c 'import yaml' 2>/dev/null || skip "no python3-yaml"
work=$(mktemp -d /tmp/loka-deploy-compose.XXXXXX)
trap 'rm -rf "$work"' EXIT
tools=$(bash "$src/scripts/deploy-tools.sh" "$src/build/deploy-tools" 2>"$work/tools.log") ||
  { tail -n 5 "$work/tools.log"; skip "Debian 13's docker-compose (v2) cannot be fetched"; }
compose2=$tools/root/usr/bin/docker-compose

# --- 1. both compose implementations accept it ------------------------------
out=$(cd "$dir" && docker-compose config -q 2>&1)
[ $? -eq 0 ] && [ -z "$out" ] && ok "docker-compose $(docker-compose version --short 2>/dev/null) config -q: valid" ||
  { notok "docker-compose 1.29 config -q:"; echo "$out" | sed 's/^/    /'; }
out=$(cd "$dir" && "$compose2" config -q 2>&1)
[ $? -eq 0 ] && [ -z "$out" ] && ok "docker compose $("$compose2" version --short 2>/dev/null) config -q: valid" ||
  { notok "compose v2 config -q:"; echo "$out" | sed 's/^/    /'; }
(cd "$dir" && "$compose2" config) >"$work/compose.yaml" 2>"$work/config.err" ||
  { notok "compose v2 config:"; sed 's/^/    /' "$work/config.err"; finish; }

# --- 2. what it promises -----------------------------------------------------
"$python" - "$work/compose.yaml" "$dir/compose.yaml" "$src" <<'EOF' || fail=1
import os, sys, yaml
sys.path.insert(0, os.path.join(sys.argv[3], "tests"))
from tap import check, passed, failed  # noqa: F401
import tap
c = yaml.safe_load(open(sys.argv[1]))
raw = yaml.safe_load(open(sys.argv[2]))
s = c["services"]
check("name" not in raw, "no top-level name (docker-compose 1.29 rejects it)")
check(set(s) == {"loka", "postgres", "prometheus", "alertmanager", "grafana"},
      "services: loka, postgres, prometheus, alertmanager, grafana", sorted(s))
published = {n: [(p.get("published"), p.get("target")) for p in v.get("ports", [])]
             for n, v in s.items() if v.get("ports")}
check(published == {"loka": [("3333", 3333)]}, "only Stratum is published "
      "(loka 3333)", published)
nets = c["networks"]
backend = [n for n, v in nets.items() if v.get("internal")]
check(len(backend) == 1 and all(set(v["networks"]) == set(backend) for n, v
                                 in s.items() if n != "loka"),
      "postgres, prometheus, alertmanager and grafana on the internal "
      "network only", {n: sorted(v["networks"]) for n, v in s.items()})
check(set(s["loka"]["networks"]) == {backend[0], "edge"} if backend else False,
      "loka on the internal network and on edge (its published port)")
check(s["loka"].get("depends_on", {}).get("postgres", {}).get("condition") ==
      "service_healthy", "loka waits for postgres to be healthy")
hc = s["postgres"].get("healthcheck", {})
check("pg_isready" in hc.get("test", []), "postgres has a pg_isready "
      "healthcheck", hc)
lk = s["loka"]
check(lk.get("read_only") is True and lk.get("user") == "10001:10001" and
      lk.get("cap_drop") == ["ALL"] and
      "no-new-privileges:true" in lk.get("security_opt", []),
      "loka: read-only, uid 10001, no capabilities, no new privileges")
check(any(m.get("target") == "/var/lib/loka-stratum" and m.get("type") ==
          "volume" for m in lk.get("volumes", [])),
      "loka's state in a named volume")
check(lk.get("environment", {}).get("LOKA_DATABASE_URL_FILE") ==
      "/run/secrets/loka-db-url", "loka reads the database URL from a secret "
      "file")
for n, v in s.items():
    check(v.get("mem_limit") and v.get("cpus"), "%s: memory and CPU limits "
          "(%s, %s)" % (n, v.get("mem_limit"), v.get("cpus")))
for n, v in c["secrets"].items():
    check(os.path.isfile(v.get("file", "")), "secret %s is a file that "
          "exists" % n)
rules = [m for m in s["prometheus"]["volumes"]
         if m.get("target") == "/etc/prometheus/loka-rules.yml"]
check(rules and os.path.samefile(rules[0]["source"], os.path.join(
      sys.argv[3], "monitoring/prometheus/loka-rules.yml")),
      "prometheus loads monitoring's loka-rules.yml")
sys.exit(1 if tap.failed else 0)
EOF

# --- 3. its Prometheus and Loka configurations -------------------------------
if command -v promtool >/dev/null; then
  cp "$dir/prometheus.yml" "$src/monitoring/prometheus/loka-rules.yml" "$work/"
  out=$(promtool check config "$work/prometheus.yml" 2>&1) &&
    ok "promtool check config: compose's prometheus.yml with monitoring's rules" ||
    { notok "promtool check config:"; echo "$out" | sed 's/^/    /'; }
  "$python" - "$dir/prometheus.yml" <<'EOF' && ok "Prometheus scrapes loka:9090 as job loka" || notok "Prometheus does not scrape loka:9090 as job loka"
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
jobs = {j["job_name"]: [t for s in j["static_configs"] for t in s["targets"]]
        for j in c["scrape_configs"]}
sys.exit(0 if jobs.get("loka") == ["loka:9090"] else 1)
EOF
else
  echo "# no promtool: compose's prometheus.yml not checked by it"
fi
mkdir -p "$work/secrets"
cp "$dir"/secrets/* "$work/secrets/"
sed "s|/run/secrets/|$work/secrets/|g" "$dir/loka-stratum.toml" >"$work/loka-stratum.toml"
out=$(LOKA_DATABASE_URL_FILE=$work/secrets/loka-db-url \
  LOKA_METRICS_API_TOKEN_FILE=$work/secrets/loka-api-token \
  "$bin" config check "$work/loka-stratum.toml" 2>&1) &&
  ok "loka-stratum config check of compose's loka-stratum.toml with its secrets" ||
  { notok "config check of compose's loka-stratum.toml:"; echo "$out" | sed 's/^/    /'; }
if echo "$out" | grep -qF -f <(sed '/^$/d' "$work"/secrets/*); then
  notok "config check printed a secret"
fi
finish
