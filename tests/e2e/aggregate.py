#!/usr/bin/env python3
"""End-to-end: aggregate mode ([server] mode = "aggregate").

Two test pools, the main one with an extranonce2 of 8 bytes, the backup
with 4 (so the split is sized from the backup's: 1 byte of slot, 3 for
the miner). Miners of every dialect mine through Loka:
- each pool sees one connection (the backup is a subscribed standby);
- the pool rejects nothing Loka forwarded; version-rolled shares arrive;
- the books equal, per worker, the difficulty each miner was told was
  accepted, and so does the pool's count (every share meets the pool's
  difficulty here);
- the main pool is killed: miners keep their connections (no reconnect,
  no set_extranonce) and their shares reach the backup within 2 s;
- /api/v1/pools shows each pool connection and the mode;
- the main pool back: miners return to it after [routing] failback_delay;
- each switch is counted in loka_pool_switches_total with its reason.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import loka_e2e as e  # noqa: E402
from loka_e2e import Loka, Pool, check, done  # noqa: E402

POOL_ARGS = ["--difficulty", "0.00001", "--user-prefix", "acct.",
             "--notify-interval", "2"]
main = Pool("--extranonce2-size", "8", *POOL_ARGS)
backup = Pool("--extranonce2-size", "4", *POOL_ARGS)
db = os.path.join(e.TMP, "aggregate.db")
cfg = """[server]
mode = "aggregate"
max_connections = 200
[aggregate]
start_difficulty = 0.00001
[database]
url = "sqlite://%s"
batch_interval = "200ms"
[routing]
failback_delay = "2s"
[[pools]]
name = "main"
url = "stratum+tcp://127.0.0.1:%d"
username = "acct"
priority = 0
[[pools]]
name = "backup"
url = "stratum+tcp://127.0.0.1:%d"
username = "acct"
priority = 1
""" % (db, main.port, backup.port)
loka = Loka(config=cfg)
check(loka.proc.wait_log(r"extranonce split from pool backup \(extranonce2 "
                         r"of 4 bytes, the smallest\): 1 byte slot per "
                         r"miner, 3 bytes for the miner", timeout=10),
      "the split is sized from the smallest extranonce2 (backup's 4)")
check(loka.proc.wait_log(r"miners work for pool main", timeout=10),
      "miners work for the preferred pool")

# ---- every dialect, books exact ----
s = e.minersim(loka.port, "--miners", "10", "--dialect", "mixed",
               "--rate", "4", "--duration", "6", "--user", "bc1qAgg.rig%d")
check(s["_rc"] == 0 and s["handshakes"] == 10 and s["accepted"] > 20 and
      s["rejected"] == 0 and s["reconnects"] == 0,
      "10 miners of every dialect: %s accepted, %s rejected" %
      (s.get("accepted"), s.get("rejected")), s.get("_log", "")[-2000:])
time.sleep(1.0)
ps = main.summary()
check(ps["connections_total"] == 1 and ps["connections_open"] == 1,
      "the main pool saw one connection for 10 miners", ps)
check(ps["rejected"] == 0 and ps["accepted"] == s["accepted"],
      "the pool rejected nothing Loka forwarded (%d accepted)" %
      ps["accepted"], ps["rejected_reasons"])
check(ps["version_rolled_accepted"] > 0,
      "version-rolled shares reach the pool (%d)" %
      ps["version_rolled_accepted"])
bs = backup.summary()
check(bs["connections_total"] == 1 and bs["accepted"] == 0,
      "the backup holds one subscribed standby connection", bs)

told = {"acct.bc1qAgg_" + k.split(".", 1)[1]:
        (w["accepted"], round(w["accepted_difficulty"], 12))
        for k, w in s["workers"].items() if w["accepted"] > 0}
check(e.wait_until(lambda: e.books_sqlite(db) == told, timeout=10),
      "books per worker == what each miner was told was accepted",
      {"books": e.books_sqlite(db), "told": told})
check(e.pool_books(ps) == told,
      "the pool's count per worker == the books", e.pool_books(ps))


def pool_accepted_books():
    """The books' second count (pool-accepted, migration 4) per worker."""
    import sqlite3
    with sqlite3.connect(db) as c:
        rows = c.execute(
            "SELECT m.name, w.name, SUM(s.pool_accepted), "
            "SUM(s.pool_accepted_difficulty) FROM submissions s JOIN "
            "workers w ON w.id = s.worker_id JOIN miners m ON "
            "m.id = w.miner_id JOIN pools p ON p.id = w.pool_id "
            "WHERE p.name = 'main' GROUP BY m.name, w.name").fetchall()
    return {"acct.%s_%s" % (m, w): (int(a), round(float(d), 12))
            for m, w, a, d in rows if a}


check(e.wait_until(lambda: pool_accepted_books() == e.pool_books(ps),
                   timeout=10),
      "the books' pool-accepted count per worker == the pool's own",
      pool_accepted_books())

st, h = loka.get("/api/v1/hashrate?range=1h&pool=main")
pts = h.get("points", []) if st == 200 else []
check(st == 200 and
      sum(x["accepted"] for x in pts) == s["accepted"] and
      round(sum(x["pool_accepted_difficulty"] for x in pts), 12) ==
      round(ps["accepted_difficulty"], 12) and
      all("pool_hashrate" in x for x in pts),
      "/api/v1/hashrate: the validated and the pool-accepted series", h)

st, body = loka.get("/api/v1/pools")
pools = {p["name"]: p for p in body.get("pools", [])} if st == 200 else {}
check(st == 200 and body.get("mode") == "aggregate" and
      pools.get("main", {}).get("upstream", {}).get("active") is True and
      pools["main"]["upstream"]["state"] == "ready" and
      pools.get("backup", {}).get("upstream", {}).get("state") == "ready",
      "/api/v1/pools: the mode and each pool connection", body)

import subprocess  # noqa: E402
out = subprocess.run([e.LOKA, "status", "--url", "http://127.0.0.1:%d" %
                      loka.metrics_port], capture_output=True, text=True,
                     timeout=20)
check(out.returncode == 0 and "mode:      aggregate" in out.stdout and
      "shared connection ready (miners work for it)" in out.stdout,
      "loka-stratum status: the mode and the pools' shared connections",
      out.stdout)

# ---- sessions: each miner's slot and difficulty ----
rig = e.Proc("minersim-view", [
    e.MINERSIM, "--url", "stratum+tcp://127.0.0.1:%d" % loka.port,
    "--miners", "3", "--rate", "1", "--duration", "4",
    "--user", "bc1qView.rig%d"])


def view():
    st, b = loka.get("/api/v1/sessions")
    return [x for x in b.get("sessions", []) if x.get("workers")] \
        if st == 200 else []


check(e.wait_until(lambda: len(view()) == 3, timeout=5),
      "/api/v1/sessions lists the miners")
slots = {x.get("extranonce1") for x in view()}
check(len(slots) == 3 and all(x and len(x) == 2 for x in slots) and
      all(x["difficulty"] > 0 for x in view()),
      "each miner has its own 1-byte slot and a difficulty",
      [(x.get("extranonce1"), x["difficulty"]) for x in view()])
rig.p.wait(20)

# ---- failover without reconnects, and failback ----
# The main pool dies and comes back a second later: miners move to the
# backup at once and back to the main pool only once it has been healthy
# for failback_delay (2 s), all on the same connections.
rigs = e.Proc("minersim-fo", [
    e.MINERSIM, "--url", "stratum+tcp://127.0.0.1:%d" % loka.port,
    "--miners", "4", "--rate", "4", "--duration", "12",
    "--user", "bc1qFo.rig%d", "--summary", os.path.join(e.TMP, "fo.json")])
time.sleep(3)
main.proc.send_signal(signal.SIGKILL)
killed = time.time()
moved = e.wait_until(lambda: backup.summary()["accepted"] > 0, timeout=5,
                     step=0.1)
check(moved and time.time() - killed < 2.5,
      "shares reach the backup %.2f s after the main pool died" %
      (time.time() - killed))
time.sleep(1)
main = Pool("--extranonce2-size", "8", *POOL_ARGS, port=main.port)
rigs.p.wait(30)
import json  # noqa: E402
with open(os.path.join(e.TMP, "fo.json")) as f:
    fo = json.load(f)
check(fo["reconnects"] == 0 and fo["disconnects"] == 0 and
      fo["handshakes"] == 4,
      "miners kept their connections through the failover and the "
      "failback", fo)
check(fo["accepted"] > 0 and fo["rejected"] <= 4 * 2 * 2,
      "miners kept mining (%d accepted, %d rejected: at most the shares in "
      "flight at the two switches, as stale)" % (fo["accepted"],
                                                 fo["rejected"]),
      fo.get("rejected_codes"))


def log_time(line):
    """Seconds of the day of a log line's timestamp."""
    hms = line.split("T", 1)[1].split("Z", 1)[0]
    h, m, sec = hms.split(":")
    return int(h) * 3600 + int(m) * 60 + float(sec)


hub = [ln for ln in loka.proc.text().splitlines() if "[hub]" in ln]
ready = [log_time(ln) for ln in hub if "pool main ready" in ln]
back = [log_time(ln) for ln in hub
        if "miners move from pool backup to pool main" in ln]
check(len(ready) == 2 and len(back) == 1 and back[0] - ready[1] >= 1.9,
      "miners move back to the main pool once it has been ready for "
      "failback_delay (2 s): %.2f s" %
      (back[0] - ready[1] if len(ready) == 2 and back else -1), hub)
check(main.summary()["accepted"] > 0, "shares reach the main pool again")
m = loka.metrics()
check(sum(v for k, v in m.items()
          if k.startswith("loka_messages_total") and
          'method="mining.set_extranonce"' in k) == 0,
      "no miner got mining.set_extranonce")
switches = {k: v for k, v in m.items()
            if k.startswith("loka_pool_switches_total")}
check(switches == {
    'loka_pool_switches_total{from="main",to="backup",reason="failed"}': 1,
    'loka_pool_switches_total{from="backup",to="main",reason="failback"}':
    1}, "each switch is counted once, with its reason", switches)

# ---- no pool left: the old work is stale, nothing more is credited ----
rigs = e.Proc("minersim-np", [
    e.MINERSIM, "--url", "stratum+tcp://127.0.0.1:%d" % loka.port,
    "--miners", "2", "--rate", "4", "--duration", "5",
    "--user", "bc1qNp.rig%d", "--summary", os.path.join(e.TMP, "np.json")])
time.sleep(2)
backup.proc.send_signal(signal.SIGKILL)  # the standby: nobody moves
time.sleep(0.5)
main.proc.send_signal(signal.SIGKILL)
check(loka.proc.wait_log(r"no pool can give miners work", timeout=3),
      "the last pool gone: logged")
check(loka.metrics().get('loka_pool_switches_total{from="main",to="none",'
                         'reason="failed"}') == 1,
      "no pool left: counted as a switch to none",
      {k: v for k, v in loka.metrics().items() if "switches" in k})
rigs.p.wait(30)
with open(os.path.join(e.TMP, "np.json")) as f:
    npo = json.load(f)
check(npo["disconnects"] == 0 and npo["rejected_codes"].get("21", 0) > 0,
      "miners stay connected; their shares on the dead pool's work are "
      "stale (%d)" % npo["rejected_codes"].get("21", 0), npo)
told_np = {"acct.bc1qNp_" + k.split(".", 1)[1]:
           (w["accepted"], round(w["accepted_difficulty"], 12))
           for k, w in npo["workers"].items() if w["accepted"] > 0}
check(e.wait_until(lambda: {k: v for k, v in e.books_sqlite(db).items()
                            if k.startswith("acct.bc1qNp_")} == told_np,
                   timeout=10),
      "the books credit only what miners were told was accepted")
check(loka.stop() == 0, "Loka stops cleanly (exit 0, nothing leaked under "
      "ASan)")
told_fo = {"acct.bc1qFo_" + k.split(".", 1)[1]:
           (w["accepted"], round(w["accepted_difficulty"], 12))
           for k, w in fo["workers"].items() if w["accepted"] > 0}
books = {k: v for k, v in e.books_sqlite(db).items()
         if k.startswith("acct.bc1qFo_")}
check(books == told_fo,
      "after the failover, the books still equal what miners were told",
      {"books": books, "told": told_fo})
done()
