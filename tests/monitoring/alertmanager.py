#!/usr/bin/env python3
"""The Alertmanager example (monitoring/alertmanager/alertmanager.yml),
loaded by a real Alertmanager on loopback: alerts posted to its API are
routed by severity, and LokaNoUpstreamPool is inhibited on an instance
where LokaDown fires (and only there).

Exits 77 (skip) when Alertmanager (Debian prometheus-alertmanager) is not
installed. Every wait is bounded; nothing leaves 127.0.0.1.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from tap import check, finish, free_port  # noqa: E402

SRC = os.environ.get("LOKA_SOURCE_DIR",
                     os.path.join(os.path.dirname(__file__), "..", ".."))
CONFIG = os.path.join(SRC, "monitoring", "alertmanager", "alertmanager.yml")
BIN = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")



def api(port, path, body=None):
    req = urllib.request.Request(
        "http://127.0.0.1:%d%s" % (port, path),
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        text = r.read()
        if r.headers.get_content_type() != "application/json":
            return r.status, text.decode(errors="replace")
        return r.status, json.loads(text)


def wait_until(fn, timeout=10.0, step=0.1):
    end = time.time() + timeout
    while time.time() < end:
        try:
            v = fn()
        except OSError:
            v = None
        if v:
            return v
        time.sleep(step)
    return None


if BIN is None:
    print("# skipped: Alertmanager is not installed")
    sys.exit(77)

tmp = tempfile.mkdtemp(prefix="loka-am-")
port = free_port()
log = open(os.path.join(tmp, "alertmanager.log"), "w")
am = subprocess.Popen([BIN, "--config.file=" + CONFIG,
                       "--storage.path=" + tmp,
                       "--web.listen-address=127.0.0.1:%d" % port,
                       "--cluster.listen-address=", "--log.level=warn"],
                      stdout=log, stderr=subprocess.STDOUT,
                      stdin=subprocess.DEVNULL)
try:
    ready = wait_until(lambda: api(port, "/-/ready")[0] == 200, 15)
    if not check(ready, "Alertmanager starts with the example configuration"):
        print(open(log.name).read())
        raise SystemExit
    status = api(port, "/api/v2/status")[1]
    check("loka-critical" in status["config"]["original"],
          "it serves the example configuration")

    def alert(name, instance, severity):
        return {"labels": {"alertname": name, "instance": instance,
                           "job": "loka", "severity": severity},
                "annotations": {"summary": "%s on %s" % (name, instance)}}

    # a: down, so its pool alert is noise; b: up, no pool: a real alert.
    code, _ = api(port, "/api/v2/alerts", [
        alert("LokaDown", "a:9090", "critical"),
        alert("LokaNoUpstreamPool", "a:9090", "critical"),
        alert("LokaNoUpstreamPool", "b:9090", "critical"),
        alert("LokaHighRejectRate", "b:9090", "warning"),
        alert("LokaDatabaseDown", "c:9090", "critical"),
        alert("LokaStoreSpoolGrowing", "c:9090", "warning"),
        alert("LokaStoreSpoolGrowing", "d:9090", "warning")])
    check(code == 200, "alerts posted", code)

    def alerts():
        got = api(port, "/api/v2/alerts")[1]
        return {(a["labels"]["alertname"], a["labels"]["instance"]): a
                for a in got}

    def settled():
        # The inhibitor marks alerts a moment after they arrive: wait
        # (bounded) for the two that should be suppressed; if they never
        # are, the checks below fail.
        out = alerts()
        inhibited = [out.get(k, {}).get("status", {}).get("state")
                     for k in (("LokaNoUpstreamPool", "a:9090"),
                               ("LokaStoreSpoolGrowing", "c:9090"))]
        return out if len(out) == 7 and inhibited == ["suppressed"] * 2 \
            else None

    got = wait_until(settled, 10) or alerts()
    check(len(got) == 7, "Alertmanager holds the 7 alerts", list(got))

    def state(name, inst):
        return got.get((name, inst), {}).get("status", {}).get("state")

    def receivers(name, inst):
        return [r["name"] for r in got.get((name, inst), {})
                .get("receivers", [])]

    check(state("LokaNoUpstreamPool", "a:9090") == "suppressed" and
          got[("LokaNoUpstreamPool", "a:9090")]["status"]["inhibitedBy"],
          "LokaNoUpstreamPool is inhibited where LokaDown fires",
          got.get(("LokaNoUpstreamPool", "a:9090")))
    check(state("LokaNoUpstreamPool", "b:9090") == "active",
          "... and active on another instance",
          state("LokaNoUpstreamPool", "b:9090"))
    check(state("LokaDown", "a:9090") == "active", "LokaDown is active")
    check(state("LokaStoreSpoolGrowing", "c:9090") == "suppressed" and
          state("LokaStoreSpoolGrowing", "d:9090") == "active",
          "LokaDatabaseDown inhibits LokaStoreSpoolGrowing, same instance "
          "only", (state("LokaStoreSpoolGrowing", "c:9090"),
                   state("LokaStoreSpoolGrowing", "d:9090")))
    check(receivers("LokaDown", "a:9090") == ["loka-critical"] and
          receivers("LokaNoUpstreamPool", "b:9090") == ["loka-critical"],
          "critical alerts go to loka-critical",
          receivers("LokaDown", "a:9090"))
    check(receivers("LokaHighRejectRate", "b:9090") == ["loka-warning"],
          "warnings go to loka-warning",
          receivers("LokaHighRejectRate", "b:9090"))
    groups = api(port, "/api/v2/alerts/groups")[1]
    keys = sorted((g["labels"].get("alertname"), g["labels"].get("instance"))
                  for g in groups)
    check(len(keys) == len(set(keys)) and
          ("LokaDown", "a:9090") in keys,
          "grouped by alert name and instance", keys)
finally:
    am.terminate()
    try:
        am.wait(10)
    except subprocess.TimeoutExpired:
        am.kill()
        am.wait()
    log.close()
    shutil.rmtree(tmp, ignore_errors=True)

finish()
