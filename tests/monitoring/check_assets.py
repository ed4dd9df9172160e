#!/usr/bin/env python3
"""Static checks of monitoring/: what promtool and amtool do not check.

- Every alert has a `for:`, a severity Alertmanager routes, and a summary
  and description naming the instance and the value.
- loka-rules.test.yml covers every alert (a case where it fires, with its
  labels and annotations, and one where it does not) and every recording
  rule.
- The Alertmanager example routes every severity and inhibits
  LokaNoUpstreamPool while LokaDown.
- The Grafana dashboards: schema, datasource input and variables, unique
  ids, a layout without overlaps, every query on ${datasource} and
  filtered by $instance; and every query is valid PromQL (promtool check
  rules on them, with Grafana's variables replaced).
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from tap import check, finish  # noqa: E402

SRC = os.environ.get("LOKA_SOURCE_DIR",
                     os.path.join(os.path.dirname(__file__), "..", ".."))
MON = os.path.join(SRC, "monitoring")


def load_yaml(*path):
    with open(os.path.join(MON, *path)) as f:
        return yaml.safe_load(f)


# --- alert rules ------------------------------------------------------------
rules = load_yaml("prometheus", "loka-rules.yml")
alerts = {}
records = {}
for g in rules["groups"]:
    for r in g["rules"]:
        if "alert" in r:
            alerts[r["alert"]] = r
        else:
            records[r["record"]] = r
WANT = ["LokaDown", "LokaNoUpstreamPool", "LokaHighRejectRate",
        "LokaHighStaleRate", "LokaConnectionsNearLimit",
        "LokaStoreSpoolGrowing", "LokaDatabaseDown", "LokaHighErrorRate",
        "LokaSubmitLatencySLO", "LokaStoreDroppingEvents"]
check(set(WANT) <= set(alerts), "the ten planned alerts are there",
      sorted(set(WANT) - set(alerts)))
for name, r in sorted(alerts.items()):
    ann = r.get("annotations", {})
    check(re.fullmatch(r"\d+[smh]", str(r.get("for", ""))) is not None,
          "%s: has a for: duration" % name, r.get("for"))
    check(r.get("labels", {}).get("severity") in ("critical", "warning"),
          "%s: severity critical or warning" % name, r.get("labels"))
    check("$labels.instance" in ann.get("summary", "") and
          "$labels.instance" in ann.get("description", ""),
          "%s: summary and description name the instance" % name, ann)
    check("$value" in ann.get("summary", "") + ann.get("description", ""),
          "%s: the annotations give the value" % name, ann)

# --- rule unit tests cover every rule ---------------------------------------
tests = load_yaml("prometheus", "loka-rules.test.yml")
fires, quiet, exprs = {}, {}, set()
for t in tests["tests"]:
    for a in t.get("alert_rule_test", []):
        n = a["alertname"]
        if a.get("exp_alerts"):
            fires[n] = fires.get(n, 0) + 1
            check(all(e.get("exp_labels", {}).get("severity") and
                      e.get("exp_annotations", {}).get("summary") and
                      e.get("exp_annotations", {}).get("description")
                      for e in a["exp_alerts"]),
                  "%s at %s: the expected alerts give labels and "
                  "annotations" % (n, a["eval_time"]))
        else:
            quiet[n] = quiet.get(n, 0) + 1
    for e in t.get("promql_expr_test", []):
        exprs.add(e["expr"].strip())
for name in sorted(alerts):
    check(fires.get(name, 0) > 0, "%s: a test case where it fires" % name)
    check(quiet.get(name, 0) > 0,
          "%s: a test case where it does not fire" % name)
for name in sorted(records):
    check(name in exprs, "%s: a test of the recording rule" % name)

# --- Alertmanager -----------------------------------------------------------
am = load_yaml("alertmanager", "alertmanager.yml")
receivers = {r["name"] for r in am["receivers"]}
routes = am["route"].get("routes", [])
check(am["route"]["receiver"] in receivers and
      all(r["receiver"] in receivers for r in routes),
      "every route goes to a defined receiver")
for sev in sorted({r["labels"]["severity"] for r in alerts.values()}):
    check(any('severity="%s"' % sev in m for r in routes
              for m in r.get("matchers", [])),
          "severity %s has its own route" % sev)
check(any('alertname="LokaDown"' in r.get("source_matchers", []) and
          'alertname="LokaNoUpstreamPool"' in r.get("target_matchers", [])
          and "instance" in r.get("equal", [])
          for r in am.get("inhibit_rules", [])),
      "LokaDown inhibits LokaNoUpstreamPool on the same instance")
urls = [w["url"] for r in am["receivers"] for w in r.get("webhook_configs",
                                                         [])]
check(urls and all(u.startswith("http://127.0.0.1:") for u in urls),
      "the example webhooks are on loopback", urls)
inh = [m for r in am.get("inhibit_rules", [])
       for m in r.get("source_matchers", []) + r.get("target_matchers", [])]
names = {m.split('"')[1] for m in inh if m.startswith("alertname=")}
check(names <= set(alerts), "inhibit rules name existing alerts",
      names - set(alerts))

# --- Grafana dashboards -----------------------------------------------------
GRAFANA_VARS = {"$__rate_interval": "1m", "$__interval": "1m",
                "$__range": "1h", "$instance": ".*", "$pool": ".*"}
boards = sorted(glob.glob(os.path.join(MON, "grafana", "*.json")))
check([os.path.basename(b) for b in boards] ==
      ["overview.json", "pools.json", "store.json"],
      "three dashboards: overview, pools, store", boards)
all_exprs = []
uids = set()
for path in boards:
    name = os.path.basename(path)
    with open(path) as f:
        d = json.load(f)
    check(d.get("schemaVersion") == 39, "%s: schemaVersion 39" % name)
    check(d.get("uid") and d["uid"] not in uids and len(d["uid"]) <= 40,
          "%s: a unique uid" % name, d.get("uid"))
    uids.add(d.get("uid"))
    check(d.get("id") is None, "%s: no database id (importable)" % name)
    check(d.get("title", "").startswith("Loka / "), "%s: titled" % name)
    check(any(i.get("name") == "DS_PROMETHEUS" and
              i.get("pluginId") == "prometheus"
              for i in d.get("__inputs", [])),
          "%s: a DS_PROMETHEUS datasource input" % name)
    tvars = {v["name"]: v for v in d["templating"]["list"]}
    dsv = tvars.get("datasource", {})
    check(dsv.get("type") == "datasource" and
          dsv.get("query") == "prometheus" and
          dsv.get("current", {}).get("value") == "${DS_PROMETHEUS}",
          "%s: a datasource variable defaulting to the input" % name, dsv)
    inst = tvars.get("instance", {})
    check(inst.get("type") == "query" and inst.get("includeAll") and
          inst.get("multi") and "instance" in inst.get("definition", ""),
          "%s: a multi-value instance variable with All" % name, inst)
    for v in tvars.values():
        if v["type"] == "query":
            check(v.get("datasource", {}).get("uid") == "${datasource}",
                  "%s: variable %s queries ${datasource}" % (name,
                                                            v["name"]))
            m = re.fullmatch(r"label_values\((.*), *(\w+)\)",
                             v["definition"])
            check(m is not None, "%s: variable %s is label_values()" %
                  (name, v["name"]), v["definition"])
            if m:
                all_exprs.append((name, "variable " + v["name"],
                                  m.group(1)))
    ids = set()
    cells = set()
    panels = d["panels"]
    check(len([p for p in panels if p["type"] != "row"]) >= 8,
          "%s: at least 8 panels" % name)
    for p in panels:
        what = "%s: panel %r" % (name, p.get("title"))
        check(p["id"] not in ids, what + ": unique id")
        ids.add(p["id"])
        g = p["gridPos"]
        ok = g["x"] >= 0 and g["w"] > 0 and g["x"] + g["w"] <= 24
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"])
                for y in range(g["y"], g["y"] + g["h"])}
        check(ok and not (mine & cells), what + ": fits, no overlap", g)
        cells |= mine
        if p["type"] == "row":
            continue
        check(p.get("description"), what + ": has a description")
        check(p.get("datasource", {}).get("uid") == "${datasource}",
              what + ": uses ${datasource}")
        refs = [t["refId"] for t in p.get("targets", [])]
        check(refs and len(refs) == len(set(refs)),
              what + ": targets with unique refIds", refs)
        for t in p.get("targets", []):
            e = t.get("expr", "")
            check(t.get("datasource", {}).get("uid") == "${datasource}" and
                  "$instance" in e,
                  what + " %s: on ${datasource}, filtered by $instance" %
                  t["refId"], e)
            all_exprs.append((name, "%s %s" % (p["title"], t["refId"]), e))

# Every query must parse: promtool check rules on them as recording rules.
promtool = shutil.which("promtool")
if promtool is None:
    print("# skipped: promtool is not installed; dashboard queries not "
          "parsed")
else:
    tmp = tempfile.mkdtemp(prefix="loka-dash-")
    rule_file = os.path.join(tmp, "dashboards.yml")
    group = []
    for n, (_, _, e) in enumerate(all_exprs):
        for k, v in GRAFANA_VARS.items():
            e = e.replace(k, v)
        check("$" not in e, "query %d: every Grafana variable is known" % n,
              e)
        group.append({"record": "dashboard_query_%d" % n, "expr": e})

    def promtool_rules(rules):
        with open(rule_file, "w") as f:
            yaml.safe_dump({"groups": [{"name": "q", "rules": rules}]}, f)
        return subprocess.run([promtool, "check", "rules", rule_file],
                              capture_output=True, text=True, timeout=60)

    r = promtool_rules(group)
    check(r.returncode == 0, "all %d dashboard queries are valid PromQL" %
          len(group), r.stdout + r.stderr)
    if r.returncode != 0:
        # Again one by one, so each error names its panel.
        for n, rule in enumerate(group):
            r = promtool_rules([rule])
            if r.returncode != 0:
                check(False, "%s / %s: valid PromQL" % all_exprs[n][:2],
                      r.stdout + r.stderr)
    shutil.rmtree(tmp)

finish()
