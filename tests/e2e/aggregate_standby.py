#!/usr/bin/env python3
"""End-to-end: aggregate mode with [aggregate] standby = false.

Two test pools; without standbys only the pool in use stays connected:
- after the start (both subscribe once, for the extranonce split) the
  backup is let go: it has no connection while the main pool works;
- the main pool is killed: the backup is connected again and the miners
  mine on it within 2 s, on the same miner connections;
- the main pool comes back: it is connected (more preferred than the one
  in use), takes the miners back after failback_delay, and the backup is
  let go again;
- the books equal what the miners were told was accepted.
"""
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import loka_e2e as e  # noqa: E402
from loka_e2e import Loka, Pool, check, done  # noqa: E402

POOL_ARGS = ["--difficulty", "0.00001", "--user-prefix", "acct.",
             "--notify-interval", "1"]
main = Pool("--extranonce2-size", "8", *POOL_ARGS)
backup = Pool("--extranonce2-size", "8", *POOL_ARGS)
db = os.path.join(e.TMP, "standby.db")
cfg = """[server]
mode = "aggregate"
[aggregate]
start_difficulty = 0.00001
standby = false
[routing]
failback_delay = "1s"
[database]
url = "sqlite://%s"
batch_interval = "200ms"
[[pools]]
name = "main"
url = "stratum+tcp://127.0.0.1:%d"
username = "acct"
priority = 0
breaker_timeout = "2s"
[[pools]]
name = "backup"
url = "stratum+tcp://127.0.0.1:%d"
username = "acct"
priority = 1
""" % (db, main.port, backup.port)
loka = Loka(config=cfg)
summary = os.path.join(e.TMP, "miners.json")
rigs = e.Proc("minersim", [
    e.MINERSIM, "--url", "stratum+tcp://127.0.0.1:%d" % loka.port,
    "--miners", "3", "--rate", "4", "--duration", "14",
    "--user", "bc1qSb.rig%d", "--summary", summary])

check(e.wait_until(lambda: backup.summary()["connections_open"] == 0 and
                   backup.summary()["connections_total"] == 1, timeout=5),
      "the backup, subscribed once for the split, is let go",
      backup.summary())
check(loka.proc.wait_log(r"pool backup disconnected: not in use"),
      "... and the log says why")
check(e.wait_until(lambda: main.summary()["accepted"] > 0, timeout=5),
      "miners mine on the main pool")

time.sleep(1)
main.proc.send_signal(signal.SIGKILL)
killed = time.time()
moved = e.wait_until(lambda: backup.summary()["accepted"] > 0, timeout=5,
                     step=0.05)
took = time.time() - killed
check(moved and took < 2, "the backup is connected again and the miners' "
      "shares reach it %.2f s after the main pool died" % took)

main = Pool("--extranonce2-size", "8", *POOL_ARGS, port=main.port)
check(e.wait_until(lambda: main.summary()["accepted"] > 0, timeout=10,
                   step=0.1),
      "the main pool, back, is connected and takes the miners back")
check(e.wait_until(lambda: backup.summary()["connections_open"] == 0,
                   timeout=5),
      "the backup is let go again", backup.summary())

rigs.p.wait(30)
with open(summary) as f:
    ms = json.load(f)
check(ms["reconnects"] == 0 and ms["disconnects"] == 0 and
      ms["handshakes"] == 3,
      "miners kept their connections throughout", ms)
check(ms["rejected"] <= 3 * 2 * 2,
      "at most the shares in flight at the two switches were stale (%d)" %
      ms["rejected"], ms.get("rejected_codes"))
m = loka.metrics()
sw = {k: v for k, v in m.items()
      if k.startswith("loka_pool_switches_total")}
check(sw == {
    'loka_pool_switches_total{from="main",to="none",reason="failed"}': 1,
    'loka_pool_switches_total{from="none",to="backup",reason="recovered"}':
    1,
    'loka_pool_switches_total{from="backup",to="main",reason="failback"}':
    1}, "the switches, with their reasons", sw)
check(loka.stop() == 0, "Loka stops cleanly")
told = {"acct.bc1qSb_" + k.split(".", 1)[1]:
        (w["accepted"], round(w["accepted_difficulty"], 12))
        for k, w in ms["workers"].items() if w["accepted"] > 0}
books = e.books_sqlite(db)
check(books == told, "the books equal what the miners were told",
      {"books": books, "told": told})
done()
