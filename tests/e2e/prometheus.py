#!/usr/bin/env python3
"""End-to-end: a real Prometheus scrapes the real loka-stratum.

miners -> loka-stratum -> loka-poolsim with a fixed number of shares; a
Prometheus server on loopback (1 s scrapes, the rules of
monitoring/prometheus/loka-rules.yml loaded) must then hold the same
figures as the pool simulator's summary, the miner simulator's and Loka's
own books; every rule evaluates without error; every dashboard query runs;
no alert is pending while all is well; and LokaDown goes pending once Loka
stops.

Exits 77 (skip) when prometheus is not installed.
"""
import calendar
import glob
import json
import os
import re
import shutil
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import yaml

sys.path.insert(0, os.path.dirname(__file__))
from loka_e2e import Loka, Pool, Proc, check, done, minersim  # noqa: E402
from loka_e2e import free_port, wait_until  # noqa: E402
import loka_e2e as e  # noqa: E402

PROMETHEUS = shutil.which("prometheus")
SRC = os.path.abspath(os.environ.get(
    "LOKA_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")))
RULES = os.path.join(SRC, "monitoring", "prometheus", "loka-rules.yml")
BOARDS = sorted(glob.glob(os.path.join(SRC, "monitoring", "grafana",
                                       "*.json")))
DIFF = "0.00001"
MINERS, SHARES = 3, 5
NAME_RX = re.compile(r"(?<![\w:])((?:loka|process)_[a-z0-9_]+)(?![\w:])")
GRAFANA_VARS = {"$__rate_interval": "30s", "$__interval": "5s",
                "$__range": "5m", "$instance": ".*", "$pool": ".*"}

if PROMETHEUS is None:
    print("# skipped: prometheus is not installed")
    sys.exit(77)



class Prometheus:
    """A Prometheus server on loopback scraping one Loka every second."""

    def __init__(self, target, attempt=0):
        self.port = free_port()
        cfg = os.path.join(e.TMP, "prometheus.yml")
        with open(cfg, "w") as f:
            yaml.safe_dump({
                "global": {"scrape_interval": "1s",
                           "evaluation_interval": "1s"},
                "rule_files": [RULES],
                "scrape_configs": [{
                    "job_name": "loka", "scrape_interval": "1s",
                    "scrape_timeout": "1s",
                    "static_configs": [{"targets": [target]}]}]}, f)
        self.proc = Proc("prometheus", [
            PROMETHEUS, "--config.file=" + cfg,
            "--storage.tsdb.path=" + os.path.join(e.TMP, "prometheus-%d" %
                                                  attempt),
            "--web.listen-address=127.0.0.1:%d" % self.port,
            "--log.level=warn"])

    def get(self, path, **params):
        """The parsed JSON answer of GET path, or None."""
        url = "http://127.0.0.1:%d%s" % (self.port, path)
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                body = r.read()
        except urllib.error.HTTPError as err:
            body = err.read()
        except OSError:
            return None
        try:
            return json.loads(body)
        except ValueError:
            return {"status": "not json", "text": body[:200]}

    def ready(self):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" %
                                        self.port, timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def query(self, expr):
        """The result list of an instant query (None on error)."""
        r = self.get("/api/v1/query", query=expr)
        if not r or r.get("status") != "success":
            return None
        return r["data"]["result"]

    def value(self, expr):
        """The value of a one-series instant query, or None."""
        res = self.query(expr)
        if not res or len(res) != 1:
            return None
        return float(res[0]["value"][1])


def family_of(name):
    """A histogram series' family name: without _bucket, _sum, _count."""
    return re.sub(r"_(bucket|sum|count)$", "", name)


def scrape_families(loka):
    """The metric families of Loka's /metrics (its # TYPE lines)."""
    url = "http://127.0.0.1:%d/metrics" % loka.metrics_port
    with urllib.request.urlopen(url, timeout=5) as r:
        text = r.read().decode()
    return set(re.findall(r"^# TYPE (\S+) ", text, re.M))


started = time.time()

# --- Loka between a pool and Prometheus -------------------------------------
pool = Pool("--difficulty", DIFF, "--user-prefix", "acct.")
loka = Loka(config="[database]\nurl = \"sqlite://%s/books.db\"\n"
            "spool_path = \"%s/spool\"\nbatch_interval = \"200ms\"\n"
            % (e.TMP, e.TMP),
            args=["--pool", "stratum+tcp://acct@127.0.0.1:%d" % pool.port])
target = "127.0.0.1:%d" % loka.metrics_port
for attempt in range(3):
    # The free port may be taken before Prometheus binds it: try another.
    prom = Prometheus(target, attempt)
    up = wait_until(lambda: prom.ready() or not prom.proc.alive(),
                    timeout=20, step=0.2)
    if up and prom.proc.alive():
        break
    prom.proc.kill()
if not check(prom.proc.alive() and prom.ready(),
             "Prometheus starts on 127.0.0.1:%d" % prom.port,
             prom.proc.text()[-2000:]):
    done()
check(wait_until(lambda: prom.value('up{job="loka"}') == 1, timeout=15,
                 step=0.2),
      "Prometheus scrapes Loka (up == 1)", prom.get("/api/v1/targets"))

# --- the rules load ---------------------------------------------------------
with open(RULES) as f:
    want = yaml.safe_load(f)["groups"]
want_groups = {g["name"]: sorted(r.get("alert") or r.get("record")
                                 for r in g["rules"]) for g in want}
rules = prom.get("/api/v1/rules") or {}
got_groups = {g["name"]: sorted(r["name"] for r in g["rules"])
              for g in rules.get("data", {}).get("groups", [])}
check(got_groups == want_groups,
      "/api/v1/rules: every group and rule of loka-rules.yml is loaded",
      (got_groups, want_groups))

# --- a fixed number of shares -----------------------------------------------
ms = minersim(loka.port, "--miners", str(MINERS), "--shares", str(SHARES),
              "--rate", "40", timeout=60)
ps = pool.summary()
total = MINERS * SHARES
check(ms["_rc"] == 0 and ms.get("accepted") == total and
      ps["accepted"] == total,
      "%d shares accepted: miners and pool agree" % total,
      (ms.get("accepted"), ps["accepted"], ms["_log"][-1000:]))
# The books hold one event per verdict and one per worker authorization.
events = ps["accepted"] + ps["rejected"] + len(ps["authorize_names"])
check(wait_until(lambda: loka.metrics().get(
    "loka_store_events_committed_total") == events, timeout=10),
      "Loka committed %d share events to its database" % events,
      loka.metrics().get("loka_store_events_committed_total"))
check(wait_until(lambda: prom.value("loka_store_events_committed_total") ==
                 events and prom.value("loka_connections_active") == 0,
                 timeout=10, step=0.2),
      "Prometheus has scraped the final figures",
      (prom.value("loka_store_events_committed_total"),
       prom.value("loka_connections_active")))

# --- Prometheus' figures == the pool's == the miners' -----------------------
v = prom.value
check(v('loka_shares_total{result="accepted"}') == ps["accepted"] ==
      ms.get("accepted"),
      "loka_shares_total{result=accepted} == pool == miners",
      (v('loka_shares_total{result="accepted"}'), ps["accepted"]))
check(v('loka_shares_total{result="rejected"}') == ps["rejected"] ==
      ms.get("rejected") == 0,
      "loka_shares_total{result=rejected} == pool == miners == 0",
      (v('loka_shares_total{result="rejected"}'), ps["rejected"]))
check(v("loka_connections_total") == MINERS == ms.get("connected"),
      "loka_connections_total == the miners that connected",
      (v("loka_connections_total"), ms.get("connected")))
check(v("loka_connections_active") == 0,
      "loka_connections_active == 0 after the miners left")
check(v('loka_upstream_events_total{event="connect"}') ==
      ps["connections_total"],
      "upstream connects == connections the pool saw",
      (v('loka_upstream_events_total{event="connect"}'),
       ps["connections_total"]))
check(v("loka_store_events_committed_total") == events and
      v("loka_store_events_dropped_total") == 0 and
      v("loka_store_queue_depth") == 0,
      "the store: %d committed, none dropped, queue empty" % events,
      (v("loka_store_events_committed_total"),
       v("loka_store_events_dropped_total"), v("loka_store_queue_depth")))
check(v("loka_store_database_up") == 1 and
      v('loka_pool_breaker_state{pool="cli"}') == 0,
      "database up, the pool's breaker closed")
check(prom.query('loka_build_info{version!=""}') and
      v("process_resident_memory_bytes") > 0,
      "build info and process metrics")

# Figures of metrics being added to Loka: checked once it exports them
# (tests/e2e/monitoring.py fails meanwhile, naming them).
families = scrape_families(loka)
submits = ps["accepted"] + ps["rejected"]
pending = [
    ("loka_share_difficulty_total",
     lambda: abs(v('loka_share_difficulty_total{result="accepted"}') -
                 ps["accepted_difficulty"]) < 1e-9,
     "accepted difficulty == the pool's"),
    ("loka_pool_up", lambda: v('loka_pool_up{pool="cli"}') == 1,
     "loka_pool_up{pool=cli} == 1"),
    ("loka_pool_submit_rtt_seconds",
     lambda: v('sum(loka_pool_submit_rtt_seconds_count{pool="cli"})') ==
     submits, "submit round trips counted == the pool's verdicts"),
    ("loka_messages_total",
     lambda: v('sum(loka_messages_total{direction="to_pool",'
               'method="mining.submit"})') == submits,
     "mining.submit to the pool == the pool's verdicts"),
    ("loka_shares_rejected_total",
     lambda: v("sum(loka_shares_rejected_total)") == ps["rejected"],
     "rejects by reason sum to the pool's"),
    ("loka_connections_limit", lambda: v("loka_connections_limit") == 1000,
     "loka_connections_limit == the default max_connections"),
]
for fam, fn, what in pending:
    if fam in families:
        check(fn(), what)
    else:
        print("# not checked yet: %s is not exported" % fam)

# rate() needs two samples of a series, and series Loka creates at their
# first event (a Stratum method, say) may have only one yet: the shares
# can all fall between two scrapes. Two more scrapes first.
scrapes = 'count_over_time(up{job="loka"}[5m])'
n = prom.value(scrapes) or 0
check(wait_until(lambda: (prom.value(scrapes) or 0) >= n + 2, timeout=10,
                 step=0.2),
      "Prometheus scrapes Loka twice more", (n, prom.value(scrapes)))

# --- rules evaluate, recording rules record ---------------------------------
t_shares = time.time()


def evaluated():
    r = prom.get("/api/v1/rules") or {}
    rs = [x for g in r.get("data", {}).get("groups", []) for x in g["rules"]]
    fresh = all(x.get("lastEvaluation", "").startswith("2") and
                calendar.timegm(time.strptime(x["lastEvaluation"][:19],
                                              "%Y-%m-%dT%H:%M:%S")) >=
                t_shares - 1 for x in rs)
    return rs if rs and fresh else None


rs = wait_until(evaluated, timeout=10, step=0.3) or []
bad = ["%s: %s" % (x["name"], x.get("lastError")) for x in rs
       if x.get("health") != "ok"]
check(rs and not bad, "every rule evaluates without error (%d)" % len(rs),
      bad)
check(wait_until(lambda: (prom.value(
    'instance:loka_shares:rate5m{result="accepted"}') or 0) > 0,
    timeout=10, step=0.3),
      "recording rule instance:loka_shares:rate5m records the accepted "
      "shares", prom.query("instance:loka_shares:rate5m"))

# --- every dashboard query runs ---------------------------------------------
for path in BOARDS:
    with open(path) as f:
        d = json.load(f)
    errors, empty = [], []
    for p in d["panels"]:
        for t in p.get("targets", []):
            q = t["expr"]
            for k, val in GRAFANA_VARS.items():
                q = q.replace(k, val)
            r = prom.get("/api/v1/query", query=q)
            if not r or r.get("status") != "success":
                errors.append("%s %s: %s" % (p["title"], t["refId"],
                                             (r or {}).get("error")))
            elif (not r["data"]["result"] and
                  all(family_of(n) in families
                      for n in NAME_RX.findall(q)) and
                  "loka_metrics_dropped_series_total" not in q):
                # Every metric it reads is exported: it must show data.
                empty.append("%s %s" % (p["title"], t["refId"]))
    name = os.path.basename(path)
    check(not errors, "%s: every query runs in Prometheus" % name, errors)
    check(not empty, "%s: every query on exported metrics has data" % name,
          empty)

# --- alerts: quiet while all is well, LokaDown when Loka stops --------------
alerts = (prom.get("/api/v1/alerts") or {}).get("data", {}).get("alerts", [])
check(not alerts, "no alert pending or firing while all is well",
      ["%s %s (%s)" % (a["labels"]["alertname"],
                       a["labels"].get("instance"), a["state"])
       for a in alerts])
check(loka.stop() == 0, "loka exits 0")


def loka_down():
    al = (prom.get("/api/v1/alerts") or {}).get("data", {}).get("alerts", [])
    return [a for a in al if a["labels"]["alertname"] == "LokaDown" and
            a["labels"].get("instance") == target]


down = wait_until(loka_down, timeout=10, step=0.3)
check(down and down[0]["state"] == "pending" and
      down[0]["labels"].get("severity") == "critical" and
      target in down[0]["annotations"].get("summary", ""),
      "LokaDown is pending for %s once Loka stops" % target, down)
pool.proc.stop()
prom.proc.stop()
print("# %.1f s" % (time.time() - started))
done()
