#!/usr/bin/env python3
"""End-to-end: the books. Shares mined through the real loka-stratum end up
in the database exactly once: on SQLite; on PostgreSQL through an outage;
and after a SIGKILL during an outage, replayed from the journal with no
double counting, every share a miner was told accepted in the books, and
nothing lost but verdicts in flight (answers the miners never got).

PostgreSQL parts run when LOKA_TEST_PG_URL and LOKA_TEST_PG_DIR are set
(scripts/test.sh starts a throw-away cluster).
"""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import loka_e2e as e  # noqa: E402
from loka_e2e import Loka, Pool, check, done, minersim  # noqa: E402

DIFF = "0.00001"
SRC = os.environ.get("LOKA_SOURCE_DIR",
                     os.path.join(os.path.dirname(__file__), "..", ".."))
PG_URL = os.environ.get("LOKA_TEST_PG_URL")
PG_DIR = os.environ.get("LOKA_TEST_PG_DIR")

BOOKS = """
SELECT m.name, w.name, SUM(s.accepted), SUM(s.accepted_difficulty),
       SUM(s.rejected_stale + s.rejected_duplicate +
           s.rejected_low_difficulty + s.rejected_unauthorized +
           s.rejected_other)
FROM submissions s JOIN workers w ON w.id = s.worker_id
JOIN miners m ON m.id = w.miner_id
GROUP BY m.name, w.name ORDER BY m.name, w.name
"""


def books_sqlite(path):
    with sqlite3.connect(path) as db:
        return {"acct.%s_%s" % (r[0], r[1]): (int(r[2]), float(r[3]))
                for r in db.execute(BOOKS)}


def books_pg():
    out = subprocess.run(["psql", PG_URL, "-At", "-F", "|", "-c", BOOKS],
                         capture_output=True, text=True, timeout=30)
    rows = {}
    for line in out.stdout.splitlines():
        m, w, acc, diff, _ = line.split("|")
        rows["acct.%s_%s" % (m, w)] = (int(acc), float(diff))
    return rows


def pool_books(summary):
    return {n: (w["accepted"], w["accepted_difficulty"])
            for n, w in summary["workers"].items() if w["accepted"] > 0}


def same(a, b):
    return (a.keys() == b.keys() and
            all(a[k][0] == b[k][0] and abs(a[k][1] - b[k][1]) < 1e-9
                for k in a))


def pg(action):
    return subprocess.run(["bash", os.path.join(SRC, "scripts",
                                                "pg-test-cluster.sh"),
                           action, PG_DIR], capture_output=True, text=True,
                          timeout=60).returncode


def pg_reset():
    subprocess.run(["psql", PG_URL, "-q", "-c",
                    "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"],
                   capture_output=True, timeout=30)


# --- 1. SQLite: every accepted share in the books, per worker ------------
db = os.path.join(e.TMP, "books.db")
spool = os.path.join(e.TMP, "spool-sqlite")
pool = Pool("--difficulty", DIFF, "--user-prefix", "acct.")
loka = Loka(config="[database]\nurl = \"sqlite://%s\"\nspool_path = \"%s\"\n"
            "batch_interval = \"200ms\"\n" % (db, spool),
            args=["--pool", "stratum+tcp://acct@127.0.0.1:%d" % pool.port])
ms = minersim(loka.port, "--miners", "6", "--shares", "6", "--rate", "20",
              "--dialect", "mixed", "--duration", "120")
check(loka.stop() == 0, "loka exits 0")
ps = pool.summary(stop=True)
check(ms.get("accepted") == 36 and ps["accepted"] == 36,
      "36 shares accepted", (ms.get("accepted"), ps["accepted"]))
books = books_sqlite(db)
check(same(books, pool_books(ps)),
      "SQLite books == the pool's accepted counts and difficulty per worker",
      (books, pool_books(ps)))
with sqlite3.connect(db) as c:
    names = {r[0] for r in c.execute("SELECT name FROM miners")}
    pools = [r for r in c.execute("SELECT name, host, port, username, "
                                  "password FROM pools")]
    seen = c.execute("SELECT COUNT(*) FROM workers WHERE last_seen >= "
                     "first_seen AND first_seen > 0").fetchone()[0]
check(names == {"bc1qTestAddr"}, "miners table: one miner account", names)
check(pools == [("cli", "127.0.0.1", pool.port, "acct", None)],
      "pools synced from the configuration, no password stored", pools)
check(seen == 6, "workers have first/last seen", seen)
check(os.path.isdir(spool), "the journal directory exists")

# --- 2. PostgreSQL through an outage --------------------------------------
if not (PG_URL and PG_DIR):
    print("# PostgreSQL parts skipped: LOKA_TEST_PG_URL / LOKA_TEST_PG_DIR "
          "not set")
    done()

pg_reset()
spool = os.path.join(e.TMP, "spool-pg")
cfg = ("[database]\nurl = \"%s\"\nspool_path = \"%s\"\n"
       "batch_interval = \"200ms\"\nconnection_timeout = 2\n"
       % (PG_URL, spool))
pool = Pool("--difficulty", DIFF, "--notify-interval", "5")
loka = Loka(config=cfg, args=["--pool", "stratum+tcp://acct@127.0.0.1:%d" %
                              pool.port])
miners = e.Proc("minersim-outage", [e.MINERSIM, "--url",
                                    "stratum+tcp://127.0.0.1:%d" % loka.port,
                                    "--miners", "4", "--rate", "4",
                                    "--duration", "9", "--allow-failures"])
time.sleep(2.5)
check(pg("stop") == 0, "PostgreSQL stopped in the middle of the run")
check(loka.proc.wait_log(r"database unavailable", timeout=10),
      "Loka notices the outage")
time.sleep(2.5)
check(pg("start") == 0, "PostgreSQL started again")
check(loka.proc.wait_log(r"database is back", timeout=15),
      "Loka notices it is back and replays")
miners.p.wait(60)
time.sleep(0.5)
check(loka.stop() == 0, "loka exits 0")
ps = pool.summary(stop=True)
books = books_pg()
check(ps["accepted"] > 0 and same(books, pool_books(ps)),
      "PostgreSQL books == the pool's counts despite the outage",
      (sum(v[0] for v in books.values()), ps["accepted"]))

# --- 3. SIGKILL during an outage, restart, replay -------------------------
pg_reset()
spool = os.path.join(e.TMP, "spool-crash")
cfg = ("[database]\nurl = \"%s\"\nspool_path = \"%s\"\n"
       "batch_interval = \"200ms\"\nconnection_timeout = 2\n"
       "fsync_interval = \"100ms\"\n" % (PG_URL, spool))
pool = Pool("--difficulty", DIFF)
loka = Loka(config=cfg, args=["--pool", "stratum+tcp://acct@127.0.0.1:%d" %
                              pool.port])
crash_summary = os.path.join(e.TMP, "miners-crash.json")
miners = e.Proc("minersim-crash", [e.MINERSIM, "--url",
                                   "stratum+tcp://127.0.0.1:%d" % loka.port,
                                   "--miners", "4", "--rate", "4",
                                   "--duration", "30", "--allow-failures",
                                   "--drain-timeout", "1",
                                   "--summary", crash_summary])
time.sleep(2)
pg("stop")
loka.proc.wait_log(r"database unavailable", timeout=10)
time.sleep(2)
loka.proc.p.kill()          # SIGKILL: no flush, no goodbye
loka.proc.p.wait()
# The miners stop too, and say what they were told.
miners.p.send_signal(signal.SIGTERM)
try:
    miners.p.wait(20)
except subprocess.TimeoutExpired:
    miners.kill()
with open(crash_summary) as f:
    ms = json.load(f)
ps = pool.summary(stop=True)
pg("start")
time.sleep(1)
# Killed again in the middle of the replay (one event per transaction, so
# the replay takes a while): whatever it had committed must not be
# counted again by the next one.
slow = cfg + "batch_size = 1\n"
killed = Loka(config=slow,
              args=["--pool", "stratum+tcp://acct@127.0.0.1:1"])
check(killed.proc.wait_log(r"replaying journal events", timeout=20),
      "after the crash, the journal is replayed")
killed.proc.p.kill()
killed.proc.p.wait()
loka2 = Loka(config=cfg, args=["--pool", "stratum+tcp://acct@127.0.0.1:1"])
# The killed replay may or may not have finished: either way this start
# replays whatever is left before it stops.
check(loka2.stop() == 0, "loka exits 0")
books = books_pg()
got = sum(v[0] for v in books.values())
want = ps["accepted"]
check(got <= want, "no share is counted twice (%d <= %d)" % (got, want))
# Journal before verdict: every share a miner was told accepted is in the
# books; what the pool has beyond them is verdicts in flight, answers
# the miners never got.
unanswered = ms["sent"] - ms["accepted"] - ms["rejected"]
check(ms["accepted"] <= got, "every share a miner was told accepted is "
      "in the books (%d <= %d)" % (ms["accepted"], got))
check(want - got <= unanswered, "what is lost is among the submits the "
      "miners got no answer for (%d <= %d)" % (want - got, unanswered))
# A second replay of the same journal adds nothing.
loka3 = Loka(config=cfg, args=["--pool", "stratum+tcp://acct@127.0.0.1:1"])
time.sleep(1)
check(loka3.stop() == 0, "loka exits 0 again")
check(sum(v[0] for v in books_pg().values()) == got,
      "restarting again replays nothing twice")

done()
