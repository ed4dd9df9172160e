#!/usr/bin/env python3
"""End-to-end: the monitoring assets match what Loka really exports.

Shares flow miners -> loka-stratum -> loka-poolsim; then the live /metrics
scrape must pass `promtool check metrics`, and every metric name the alert
and recording rules (monitoring/prometheus/loka-rules.yml) and the Grafana
dashboards (monitoring/grafana/*.json) query must be a family of that
scrape (histogram suffixes _bucket/_sum/_count allowed), with the labels
the queries select and group by. A missing name is reported with where it
is used.

Exits 77 (skip) when promtool is not installed.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request

import yaml

sys.path.insert(0, os.path.dirname(__file__))
from loka_e2e import Loka, Pool, check, done, minersim  # noqa: E402
import loka_e2e as e  # noqa: E402

SRC = os.environ.get("LOKA_SOURCE_DIR",
                     os.path.join(os.path.dirname(__file__), "..", ".."))
MON = os.path.join(SRC, "monitoring")
DIFF = "0.00001"
# Labels Prometheus adds at scrape time, and the histogram bucket label.
TARGET_LABELS = {"instance", "job"}
NAME_RX = re.compile(r"(?<![\w:])((?:loka|process)_[a-z0-9_]+)(?![\w:])")
SELECTOR_RX = re.compile(r"(?<![\w:])((?:loka|process)_[a-z0-9_]+)\{([^}]*)\}")
MATCHER_RX = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"')
BY_RX = re.compile(r"\b(?:by|on)\s*\(([^)]*)\)")

if shutil.which("promtool") is None:
    print("# skipped: promtool is not installed")
    sys.exit(77)


def queries():
    """(where, PromQL) of every rule and dashboard query."""
    out = []
    with open(os.path.join(MON, "prometheus", "loka-rules.yml")) as f:
        for g in yaml.safe_load(f)["groups"]:
            for r in g["rules"]:
                out.append(("loka-rules.yml %s" %
                            (r.get("alert") or r.get("record")), r["expr"]))
    for path in sorted(glob.glob(os.path.join(MON, "grafana", "*.json"))):
        name = os.path.basename(path)
        with open(path) as f:
            d = json.load(f)
        for v in d["templating"]["list"]:
            if v["type"] == "query":
                out.append(("%s variable %s" % (name, v["name"]),
                            v["definition"]))
        for p in d["panels"]:
            for t in p.get("targets", []):
                out.append(("%s %r" % (name, p["title"]), t["expr"]))
    return out


def parse_scrape(text):
    """{family: type}, {family: [label dicts of its samples]}."""
    types, samples = {}, {}
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            types[m.group(1)] = m.group(2)
            samples.setdefault(m.group(1), [])
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? \S+$", line)
        if not m:
            continue
        name, labels = m.group(1), dict(
            re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        fam = name
        for suffix in ("_bucket", "_sum", "_count"):
            base = name[:-len(suffix)]
            if name.endswith(suffix) and types.get(base) in ("histogram",
                                                             "summary"):
                fam = base
        samples.setdefault(fam, []).append(labels)
    return types, samples


def family(name, types):
    """The scrape family a query's name belongs to, or None."""
    if name in types:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[:-len(suffix)]
        if name.endswith(suffix) and types.get(base) in ("histogram",
                                                         "summary"):
            return base
    return None


# --- shares flow, then scrape -----------------------------------------------
pool = Pool("--difficulty", DIFF, "--user-prefix", "acct.")
loka = Loka(config="[database]\nurl = \"sqlite://%s/books.db\"\n"
            "spool_path = \"%s/spool\"\nbatch_interval = \"200ms\"\n"
            % (e.TMP, e.TMP),
            args=["--pool", "stratum+tcp://acct@127.0.0.1:%d" % pool.port])
ms = minersim(loka.port, "--miners", "3", "--shares", "4", "--rate", "40",
              "--dialect", "mixed", timeout=60)
check(ms["_rc"] == 0 and ms.get("accepted") == 12,
      "12 shares accepted through Loka", (ms.get("accepted"),
                                          ms["_log"][-1000:]))
with urllib.request.urlopen("http://127.0.0.1:%d/metrics" %
                            loka.metrics_port, timeout=5) as r:
    scrape = r.read().decode()
with open(os.path.join(e.TMP, "scrape.txt"), "w") as f:
    f.write(scrape)
lint = subprocess.run(["promtool", "check", "metrics"], input=scrape,
                      capture_output=True, text=True, timeout=30)
check(lint.returncode == 0 and not lint.stdout.strip(),
      "promtool check metrics: the scrape is clean",
      lint.stdout + lint.stderr)
types, samples = parse_scrape(scrape)
check(len(types) >= 20, "the scrape has metric families", len(types))

# --- every name the assets use is exported ----------------------------------
used = {}
for where, q in queries():
    for name in NAME_RX.findall(q):
        used.setdefault(name, set()).add(where)
check(len(used) >= 25, "the rules and dashboards use Loka's metrics",
      sorted(used))
missing = sorted(n for n in used if family(n, types) is None)
check(not missing, "every metric name in the rules and dashboards is "
      "exported (%d names)" % len(used),
      "missing: " + "; ".join("%s (used in %s)" % (
          n, ", ".join(sorted(used[n])[:3]) +
          (", ..." if len(used[n]) > 3 else "")) for n in missing))
for n in missing:
    print("#   missing from /metrics: %s" % n)

# --- and with the labels they select and group by ---------------------------
bad = []
for where, q in queries():
    names = [family(n, types) for n in NAME_RX.findall(q)]
    names = [n for n in names if n and samples.get(n)]
    have = set(TARGET_LABELS)
    for n in names:
        for s in samples[n]:
            have |= set(s)
    for m in SELECTOR_RX.finditer(q):
        fam = family(m.group(1), types)
        if fam is None or not samples.get(fam):
            continue
        labels = set(TARGET_LABELS)
        for s in samples[fam]:
            labels |= set(s)
        for label, op, value in MATCHER_RX.findall(m.group(2)):
            if label not in labels:
                bad.append("%s: %s has no label %s" % (where, fam, label))
            elif (op == "=" and label not in TARGET_LABELS and
                  "$" not in value and
                  value not in {s.get(label) for s in samples[fam]}):
                bad.append("%s: %s{%s=%r} is not exported" %
                           (where, fam, label, value))
    if names:
        for by in BY_RX.findall(q):
            for label in filter(None, (x.strip() for x in by.split(","))):
                if label not in have:
                    bad.append("%s: no metric in it has label %s" %
                               (where, label))
check(not bad, "the labels the queries use are exported", "; ".join(bad))

check(loka.stop() == 0, "loka exits 0")
pool.proc.stop()
done()
