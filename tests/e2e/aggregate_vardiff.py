#!/usr/bin/env python3
"""End-to-end: aggregate mode gives each miner its own difficulty.

Three simulated miners on the shared pool connections: a tiny one
(5 kH/s), a big one (150 kH/s: a tenth of a core even in the sanitizer
build, so that other tests beside it on a busy two-core machine do not
change its speed) and a small one that asks for a floor with
mining.suggest_difficulty. With [aggregate] share_rate = 120, each
settles near two shares a second whatever its hashrate (two rather than
one: more shares per window, less chance in what the 15 s measurement
sees); their difficulties follow their hashrates; the suggested floor
holds; the pool's difficulty is never exceeded.

Then the pool options: verdict = "pool" (a forwarded share's answer is
the pool's) and identity = "account" (the pool sees only the account
name) still give books equal to what the miners were told.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import loka_e2e as e  # noqa: E402
from loka_e2e import Loka, Pool, check, done  # noqa: E402

pool = Pool("--difficulty", "0.01", "--user-prefix", "acct.",
            "--notify-interval", "1")
cfg = """[server]
mode = "aggregate"
[aggregate]
share_rate = 120
start_difficulty = 0.00001
min_difficulty = 0.0000001
retarget_interval = "2s"
[[pools]]
name = "main"
url = "stratum+tcp://127.0.0.1:%d"
username = "acct"
""" % pool.port
loka = Loka(config=cfg)


def rig(name, *args):
    return e.Proc("minersim-" + name, [
        e.MINERSIM, "--url", "stratum+tcp://127.0.0.1:%d" % loka.port,
        "--miners", "1", "--rate", "1000", "--duration", "45",
        "--user", "bc1qV.%s" % name] + list(args))


def workers():
    st, body = loka.get("/api/v1/workers")
    return {w["worker"]: w["accepted"] for w in body.get("workers", [])} \
        if st == 200 else {}


def sessions():
    st, body = loka.get("/api/v1/sessions")
    return {s["workers"][0]["name"].split(".")[1]: s
            for s in body.get("sessions", []) if s["workers"]}


rigs = [rig("tiny", "--hashrate", "5000"),
        rig("big", "--hashrate", "150000"),
        rig("floor", "--hashrate", "20000", "--dialect", "suggest")]
time.sleep(25)          # a few windows to settle
a = workers()
time.sleep(15)
b = workers()
sess = sessions()
for r in rigs:
    r.kill()
rate = {k: (b.get(k, 0) - a.get(k, 0)) / 15.0 for k in ("tiny", "big")}
check(0.8 <= rate["tiny"] <= 5,
      "the tiny miner settles near 2 shares/s (%.2f/s at difficulty %.3g)" %
      (rate["tiny"], sess.get("tiny", {}).get("difficulty", 0)))
check(0.8 <= rate["big"] <= 5,
      "the big miner settles near 2 shares/s (%.2f/s at difficulty %.3g)" %
      (rate["big"], sess.get("big", {}).get("difficulty", 0)))
dt = sess.get("tiny", {}).get("difficulty", 0)
db_ = sess.get("big", {}).get("difficulty", 0)
check(dt > 0 and db_ / dt > 5,
      "difficulty follows hashrate (big/tiny = %.1f)" %
      (db_ / dt if dt else 0))
check(sess.get("floor", {}).get("difficulty", 0) >= 0.0001,
      "mining.suggest_difficulty sets a floor (%.3g >= 0.0001)" %
      sess.get("floor", {}).get("difficulty", 0))
check(all(s["difficulty"] <= 0.01 for s in sess.values()),
      "no miner above the pool's difficulty")
check(0 < dt < 0.00001,
      "fractional difficulty below the start (%.3g)" % dt)
loka.stop()
pool.proc.stop()

# ---- verdict = "pool", identity = "account" ----
pool = Pool("--difficulty", "0.00001", "--notify-interval", "2")
db = os.path.join(e.TMP, "options.db")
cfg = """[server]
mode = "aggregate"
[aggregate]
start_difficulty = 0.00001
[database]
url = "sqlite://%s"
batch_interval = "200ms"
[[pools]]
name = "main"
url = "stratum+tcp://127.0.0.1:%d"
username = "acct"
verdict = "pool"
identity = "account"
""" % (db, pool.port)
loka = Loka(config=cfg)
s = e.minersim(loka.port, "--miners", "4", "--rate", "4", "--duration",
               "5", "--user", "bc1qO.rig%d", "--dialect", "mixed")
ps = pool.summary()
check(s["_rc"] == 0 and s["accepted"] > 20 and s["rejected"] == 0,
      "verdict = pool: miners get the pool's answers (%d accepted)" %
      s["accepted"])
check(ps["authorize_names"] == ["acct"] and ps["accepted"] ==
      s["accepted"],
      "identity = account: the pool sees only the account, every share",
      ps)
told = {"bc1qO_" + k.split(".", 1)[1]:
        (w["accepted"], round(w["accepted_difficulty"], 12))
        for k, w in s["workers"].items() if w["accepted"] > 0}
check(e.wait_until(lambda: e.books_sqlite(db, prefix="") == told,
                   timeout=10),
      "the books still count each worker as its miner was told",
      {"books": e.books_sqlite(db, prefix=""), "told": told})
check(loka.stop() == 0, "Loka stops cleanly with verdicts from the pool")
done()
