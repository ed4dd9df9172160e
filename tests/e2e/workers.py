#!/usr/bin/env python3
"""End-to-end: workers that stopped.

Two simulated rigs mine; one stops. Within [monitoring]
worker_offline_after (plus the check interval) it is offline in
/api/v1/workers?state=offline, in loka_workers{state} and in the log
(once) and `loka-stratum workers --offline`; the other stays online. It comes back online when it mines again,
and the states survive a restart of Loka (they come from the books).
Slow workers are judged over minutes of history: tests/e2e/workers_slow.py
(and tests/unit/test_watch.c).
"""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import loka_e2e as e  # noqa: E402
from loka_e2e import Loka, Pool, check, done  # noqa: E402

db = os.path.join(e.TMP, "workers.db")
cfg = ("[database]\nurl = \"sqlite://%s\"\nbatch_interval = \"200ms\"\n"
       "[monitoring]\nworker_offline_after = \"10s\"\n"
       "worker_check_interval = \"1s\"\n" % db)
pool = Pool("--difficulty", "0.00001", "--user-prefix", "acct.")
args = ["--pool", "stratum+tcp://acct@127.0.0.1:%d" % pool.port]
loka = Loka(config=cfg, args=args)


def rig(name):
    return e.Proc("minersim-" + name, [
        e.MINERSIM, "--url", "stratum+tcp://127.0.0.1:%d" % loka.port,
        "--miners", "1", "--rate", "4", "--user", "bc1qFarm.%s" % name,
        "--allow-failures"])


def states(loka):
    st, body = loka.get("/api/v1/workers?state=all")
    return {w["worker"]: w for w in body.get("workers", [])} if st == 200 \
        else {}


a, b = rig("a"), rig("b")
check(e.wait_until(lambda: {x["state"] for x in states(loka).values()} ==
                   {"online"} and len(states(loka)) == 2, timeout=15),
      "both rigs online", states(loka))
b.p.send_signal(signal.SIGKILL)
stopped = time.time()
check(e.wait_until(lambda: states(loka).get("b", {}).get("state") ==
                   "offline", timeout=20),
      "the stopped rig goes offline (%.1f s; offline after 10 s)"
      % (time.time() - stopped), states(loka))
st, body = loka.get("/api/v1/workers?state=offline")
check(st == 200 and [w["worker"] for w in body["workers"]] == ["b"] and
      body["counts"] == {"online": 1, "slow": 0, "offline": 1} and
      body["workers"][0]["last_share"] <= stopped + 1,
      "/workers?state=offline lists it, with its last share", body)
m = loka.metrics()
check(m.get('loka_workers{state="offline"}') == 1 and
      m.get('loka_workers{state="online"}') == 1,
      "loka_workers{state}: 1 online, 1 offline")
time.sleep(2)
log = loka.proc.text()
check(len(re.findall(r"bc1qFarm / b: online -> offline", log)) == 1,
      "the change is logged once", re.findall(r"\[workers\].*", log))
url = "http://127.0.0.1:%d" % loka.metrics_port
out = subprocess.run([e.LOKA, "workers", "--offline", "--url", url],
                     capture_output=True, text=True, timeout=20)
check(out.returncode == 0 and "1 online, 0 slow, 1 offline" in out.stdout and
      re.search(r"offline +\d+s +cli / bc1qFarm\.b", out.stdout) and
      "bc1qFarm.a" not in out.stdout,
      "loka-stratum workers --offline: the stopped rig, for how long",
      out.stdout + out.stderr)
out = subprocess.run([e.LOKA, "workers", "--url", "http://127.0.0.1:%d" %
                      e.free_port()], capture_output=True, text=True,
                     timeout=20)
check(out.returncode == 1 and "cannot reach" in out.stderr,
      "workers: an instance that cannot be reached exits 1", out.stderr)
st, body = loka.get("/api/v1/workers?state=gone")
check(st == 400 and "state" in body.get("error", ""), "a bad state: 400",
      body)

b = rig("b")
check(e.wait_until(lambda: states(loka).get("b", {}).get("state") ==
                   "online", timeout=15),
      "it comes back online when it mines again", states(loka))
b.p.send_signal(signal.SIGKILL)
a.p.send_signal(signal.SIGKILL)
check(loka.stop() == 0, "loka exits 0")
pool.summary(stop=True)

# A restart: the states come from the books, not from memory.
loka = Loka(config=cfg, args=["--pool", "stratum+tcp://acct@127.0.0.1:1"])
check(e.wait_until(lambda: {x["state"] for x in states(loka).values()} ==
                   {"offline"} and len(states(loka)) == 2, timeout=20),
      "after a restart both rigs are known, offline", states(loka))
check(loka.stop() == 0, "loka exits 0 again")
done()
