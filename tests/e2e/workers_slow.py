#!/usr/bin/env python3
"""End-to-end: a rig that slowed down, one that stopped.

A farm of three simulated rigs has mined through Loka for half an hour at
10 shares a second each: the books hold that history (written here as the
store writes it: a row per worker and minute, per worker and hour, per
pool and minute), as after a restart of Loka. Loka starts on those books
with [monitoring] worker_slow_window = 2m (the shortest),
worker_slow_fraction = 0.45 and worker_offline_after = 10s, and the rigs
mine again: one steady, one throttled to a twentieth of its rate, one
stopped. The stopped rig is offline within worker_offline_after; the
throttled one is slow once most of a window (two whole minutes) was mined
throttled, in /api/v1/workers?state=slow, in loka_workers{state="slow"}
and in `loka-stratum workers --slow`. Both are online again when they mine
at their full rate, and each change is logged once. The steady rig never
changes.

It takes about three minutes: the window is whole minutes, so being slow
waits for the throttled rig to fill most of one, and being online again
for the restored rig to fill enough of the next.
"""
import atexit
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import loka_e2e as e  # noqa: E402
import tap  # noqa: E402
from loka_e2e import Loka, Pool, check, done  # noqa: E402

RATE = 10.0                # a rig's shares per second at full rate
THROTTLED = RATE / 20      # one share every 2 s: slow, not offline
DIFF = 0.000001            # the test pool's share difficulty
HISTORY = 1800             # seconds of books before this run
RIGS = ("steady", "halted", "throttled")

db = os.path.join(e.TMP, "slow.db")
cfg = ("[database]\nurl = \"sqlite://%s\"\nbatch_interval = \"200ms\"\n"
       "spool_path = \"%s\"\n"
       "[monitoring]\nworker_offline_after = \"10s\"\n"
       "worker_check_interval = \"1s\"\nworker_slow_window = \"2m\"\n"
       "worker_slow_fraction = 0.45\n" % (db, os.path.join(e.TMP, "spool")))
pool = Pool("--difficulty", "%g" % DIFF, "--user-prefix", "acct.")
args = ["--pool", "stratum+tcp://acct@127.0.0.1:%d" % pool.port]
# Whatever happens, nothing started here outlives the test.
atexit.register(lambda: [p.kill() for p in e._procs])

# A first run creates the books and the pool's row.
loka = Loka(config=cfg, args=args)
check(loka.stop() == 0, "a first run creates the books")


def seed(now):
    """Half an hour at RATE for each rig, up to now, as the store books it:
    submissions per minute, worker_hours per hour, pool_minutes per minute;
    each worker first seen HISTORY ago, last accepted now."""
    with sqlite3.connect(db) as c:
        pool_id = c.execute("SELECT id FROM pools WHERE name = 'cli'"
                            ).fetchone()[0]
        c.execute("INSERT INTO miners (name, created_at) VALUES (?, ?)",
                  ("bc1qFarm", now - HISTORY))
        miner_id = c.execute("SELECT id FROM miners WHERE name = "
                             "'bc1qFarm'").fetchone()[0]
        minutes = {}
        for t in range(now - HISTORY, now):
            m = t - t % 60
            minutes[m] = minutes.get(m, 0) + int(RATE)
        for name in RIGS:
            c.execute("INSERT INTO workers (pool_id, miner_id, name, "
                      "first_seen, last_seen, last_accepted) VALUES "
                      "(?, ?, ?, ?, ?, ?)", (pool_id, miner_id, name,
                                             now - HISTORY, now, now))
            wid = c.execute("SELECT id FROM workers WHERE name = ?",
                            (name,)).fetchone()[0]
            hours = {}
            for m, n in minutes.items():
                c.execute("INSERT INTO submissions (worker_id, minute, "
                          "accepted, accepted_difficulty) VALUES "
                          "(?, ?, ?, ?)", (wid, m, n, n * DIFF))
                h = m - m % 3600
                hours[h] = hours.get(h, 0) + n
            for h, n in hours.items():
                c.execute("INSERT INTO worker_hours (worker_id, hour, "
                          "accepted, accepted_difficulty) VALUES "
                          "(?, ?, ?, ?)", (wid, h, n, n * DIFF))
        for m, n in minutes.items():
            n *= len(RIGS)
            c.execute("INSERT INTO pool_minutes (pool_id, minute, accepted, "
                      "accepted_difficulty) VALUES (?, ?, ?, ?)",
                      (pool_id, m, n, n * DIFF))


seed(int(time.time()))
loka = Loka(config=cfg, args=args)


def rig(name, rate=RATE):
    return e.Proc("minersim-" + name, [
        e.MINERSIM, "--url", "stratum+tcp://127.0.0.1:%d" % loka.port,
        "--miners", "1", "--rate", "%g" % rate, "--user",
        "bc1qFarm.%s" % name, "--allow-failures"])


def states():
    st, body = loka.get("/api/v1/workers?state=all")
    return {w["worker"]: w for w in body.get("workers", [])} if st == 200 \
        else {}


def state(name):
    return states().get(name, {}).get("state")


def changes(name):
    """The logged changes of one rig, as "old -> new"."""
    return re.findall(r"\[workers\] cli / bc1qFarm / %s: (\w+ -> \w+)" %
                      name, loka.proc.text())


rigs = {n: rig(n) for n in RIGS}
check(e.wait_until(lambda: len(states()) == 3 and
                   {w["state"] for w in states().values()} == {"online"},
                   timeout=15),
      "the three rigs are online on their history", states())
check(loka.proc.wait_log(r"\[workers\] 3 online, 0 slow, 0 offline \(from "
                         r"the books\)", timeout=5),
      "the first look at the books: 3 online, logged as a state")
st, body = loka.get("/api/v1/workers?state=all")
w = {x["worker"]: x for x in body.get("workers", [])}
check(all(n in w and w[n]["hashrate"] > 0 and
          abs(w[n]["hashrate_24h"] / w[n]["hashrate"] - 1) < 0.1
          for n in RIGS),
      "their recent hashrate is their 24-hour average", w)

# One rig is throttled to a twentieth of its rate, another stops.
rigs["throttled"].kill()
rigs["throttled"] = rig("throttled", THROTTLED)
throttled = time.time()
rigs["halted"].kill()
stopped = time.time()
check(e.wait_until(lambda: state("halted") == "offline", timeout=20),
      "the stopped rig goes offline (%.1f s; offline after 10 s)"
      % (time.time() - stopped), states())
check(state("throttled") == "online",
      "the throttled rig is not slow yet (its window is mostly full rate)",
      states().get("throttled"))
rigs["halted"] = rig("halted")
check(e.wait_until(lambda: state("halted") == "online", timeout=15),
      "the stopped rig is online again when it mines", states())

# Slow once most of the two-minute window was throttled: at the first
# whole minute at least ~71 s after the throttle.
check(e.wait_until(lambda: state("throttled") == "slow", timeout=150,
                   step=0.5),
      "the throttled rig goes slow (%.0f s after the throttle)"
      % (time.time() - throttled), states())
slowed = time.time()
st, body = loka.get("/api/v1/workers?state=slow")
check(st == 200 and
      [x["worker"] for x in body.get("workers", [])] == ["throttled"] and
      body.get("counts") == {"online": 2, "slow": 1, "offline": 0},
      "/workers?state=slow lists it alone", body)
x = body["workers"][0] if body.get("workers") else {}
check(x.get("hashrate_24h", 0) > 0 and
      x.get("hashrate", 1) < 0.45 * x["hashrate_24h"] and
      x.get("last_share", 0) >= throttled,
      "its hashrate is below 0.45 of its 24-hour average; it still shares",
      x)
m = loka.metrics()
check(m.get('loka_workers{state="slow"}') == 1 and
      m.get('loka_workers{state="online"}') == 2 and
      m.get('loka_workers{state="offline"}') == 0,
      "loka_workers{state}: 2 online, 1 slow, 0 offline",
      {k: v for k, v in m.items() if k.startswith("loka_workers{")})
url = "http://127.0.0.1:%d" % loka.metrics_port
out = subprocess.run([e.LOKA, "workers", "--slow", "--url", url],
                     capture_output=True, text=True, timeout=20)
check(out.returncode == 0 and "2 online, 1 slow, 0 offline" in out.stdout and
      re.search(r"slow +\d+s +cli / bc1qFarm\.throttled", out.stdout) and
      "bc1qFarm.steady" not in out.stdout and
      "bc1qFarm.halted" not in out.stdout,
      "loka-stratum workers --slow: the throttled rig",
      out.stdout + out.stderr)

# Back to full rate: online once enough of a window is full rate again.
rigs["throttled"].kill()
rigs["throttled"] = rig("throttled")
check(e.wait_until(lambda: state("throttled") == "online", timeout=130,
                   step=0.5),
      "the restored rig is online again (%.0f s after)"
      % (time.time() - slowed), states())
st, body = loka.get("/api/v1/workers?state=slow")
check(st == 200 and body.get("workers") == [] and
      body.get("counts") == {"online": 3, "slow": 0, "offline": 0},
      "/workers?state=slow is empty again", body)
check(loka.metrics().get('loka_workers{state="slow"}') == 0,
      'loka_workers{state="slow"} is 0 again')

time.sleep(2)
check(changes("throttled") == ["online -> slow", "slow -> online"],
      "the throttled rig's changes are logged once each",
      changes("throttled"))
check(changes("halted") == ["online -> offline", "offline -> online"],
      "the stopped rig's changes are logged once each", changes("halted"))
check(changes("steady") == [], "the steady rig never changed",
      changes("steady"))
log = loka.proc.text()
check(re.search(r"cli / bc1qFarm / throttled: online -> slow \([\d.e+]+ "
                r"H/s over 2 min, [\d.e+]+ H/s in 24 h\)", log),
      "the slow line gives both hashrates",
      re.findall(r"\[workers\].*", log))

for line in re.findall(r"\[workers\].*", log):
    print("# " + line)
for p in rigs.values():
    p.kill()
check(loka.stop() == 0, "loka exits 0")
pool.summary(stop=True)
if tap.failed == 0:
    shutil.rmtree(e.TMP, ignore_errors=True)
done()
