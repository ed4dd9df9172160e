#!/usr/bin/env python3
"""End-to-end: aggregate mode opens more pool connections when one
cannot hold the farm.

Test pools with an extranonce2 of 4 bytes give 1-byte slots: 256 miners
per connection. With [server] max_connections = 300, Loka opens two
connections to each pool, and 300 miners mine through them:
- each pool sees exactly two connections;
- the pool rejects nothing (no two miners do the same work, though
  slots repeat across the two connections);
- the books equal what each miner was told was accepted, per worker;
- the main pool killed mid-run, all 300 move to the backup's two
  connections without reconnecting.
"""
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import loka_e2e as e  # noqa: E402
from loka_e2e import Loka, Pool, check, done  # noqa: E402

ARGS = ["--difficulty", "0.000001", "--user-prefix", "acct.",
        "--notify-interval", "2", "--extranonce2-size", "4"]
main, backup = Pool(*ARGS), Pool(*ARGS)
db = os.path.join(e.TMP, "slots.db")
cfg = """[server]
mode = "aggregate"
max_connections = 300
[aggregate]
start_difficulty = 0.000001
[database]
url = "sqlite://%s"
batch_interval = "200ms"
[[pools]]
name = "main"
url = "stratum+tcp://127.0.0.1:%d"
username = "acct"
[[pools]]
name = "backup"
url = "stratum+tcp://127.0.0.1:%d"
username = "acct"
priority = 1
""" % (db, main.port, backup.port)
loka = Loka(config=cfg)
check(loka.proc.wait_log(r"256 miners per pool connection, 2 connections "
                         r"per pool", timeout=10),
      "two connections per pool for 300 miners at 256 a connection")
summary = os.path.join(e.TMP, "farm.json")
farm = e.Proc("minersim-farm", [
    e.MINERSIM, "--url", "stratum+tcp://127.0.0.1:%d" % loka.port,
    "--miners", "300", "--rate", "0.3", "--duration", "14",
    "--user", "bc1qSlots.rig%d", "--summary", summary])
time.sleep(7)
ps = main.summary()
check(ps["connections_total"] == 2 and ps["rejected"] == 0 and
      ps["accepted"] > 0,
      "the main pool: two connections, %d shares, none rejected" %
      ps["accepted"], {k: ps[k] for k in ("connections_total", "accepted",
                                          "rejected", "rejected_reasons")})
st, body = loka.get("/api/v1/pools")
main_up = [p["upstream"] for p in body.get("pools", [])
           if p["name"] == "main"]
check(main_up and main_up[0]["connections"] == 2 and
      main_up[0]["split"]["connections_per_pool"] == 2,
      "/api/v1/pools: two shared connections", main_up)
main.proc.send_signal(signal.SIGKILL)
killed = time.time()
check(e.wait_until(lambda: backup.summary()["accepted"] > 0, timeout=5,
                   step=0.1),
      "the main pool killed: shares reach the backup (%.1f s)" %
      (time.time() - killed))
farm.p.wait(60)
with open(summary) as f:
    s = json.load(f)
bs = backup.summary()
check(s["handshakes"] == 300 and s["reconnects"] == 0 and
      s["disconnects"] == 0,
      "300 miners, none reconnected", {k: s[k] for k in (
          "handshakes", "reconnects", "disconnects", "accepted",
          "rejected")})
check(bs["connections_total"] == 2 and bs["rejected"] == 0,
      "the backup: two connections, nothing rejected",
      {k: bs[k] for k in ("connections_total", "accepted", "rejected")})
told = {"acct.bc1qSlots_" + k.split(".", 1)[1]:
        (w["accepted"], round(w["accepted_difficulty"], 12))
        for k, w in s["workers"].items() if w["accepted"] > 0}
check(e.wait_until(lambda: e.books_sqlite(db) == told, timeout=10),
      "the books equal what each of the 300 miners was told (%d workers)" %
      len(told))
check(loka.stop() == 0, "Loka stops cleanly")
done()
