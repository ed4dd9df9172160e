#!/usr/bin/env python3
"""End-to-end: a full disk loses nothing.

The SQLite file and the journal live on a 3 MB tmpfs (mounted in a mount
namespace of this test's own, so nothing outside sees it and it goes away
with the test). Miners mine through Loka; the file system is filled for a
while and then freed. While it is full Loka says so (an error line,
loka_store_journal_ok 0, /ready 503 once the journal refuses events,
/health/database 503); afterwards the database is "back" only with every
journaled event in it, the books equal the pool's count exactly, per
worker, and the next start finds no torn or damaged journal.

Needs root (or CAP_SYS_ADMIN) for the mount: skips (77) otherwise.
"""
import os
import shutil
import subprocess
import sys
import time

if os.environ.get("LOKA_DISKFULL_NS") != "1":
    # Into a private mount namespace: the tmpfs is ours alone.
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        print("# skip: needs root and unshare(1) for a private tmpfs")
        sys.exit(77)
    env = dict(os.environ, LOKA_DISKFULL_NS="1")
    rc = subprocess.call([unshare, "--mount", "--propagation", "private",
                          sys.executable] + sys.argv, env=env)
    sys.exit(rc)

sys.path.insert(0, os.path.dirname(__file__))
import loka_e2e as e  # noqa: E402
from loka_e2e import Loka, Pool, books_sqlite, check, done, pool_books  # noqa: E402,E501

DIFF = "0.0000001"


small = os.path.join(e.TMP, "small")
os.makedirs(small)
if subprocess.call(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs",
                    small]) != 0:
    print("# skip: cannot mount a tmpfs here")
    sys.exit(77)

db = os.path.join(small, "books.db")
cfg = ("[database]\nurl = \"sqlite://%s\"\nbatch_interval = \"200ms\"\n"
       "fsync_interval = \"100ms\"\nverdict_wait = \"600ms\"\n" % db)
pool = Pool("--difficulty", DIFF, "--user-prefix", "acct.")
loka = Loka(config=cfg, args=["--pool", "stratum+tcp://acct@127.0.0.1:%d" %
                              pool.port])
miners = e.Proc("minersim", [e.MINERSIM, "--url",
                             "stratum+tcp://127.0.0.1:%d" % loka.port,
                             "--miners", "4", "--rate", "50",
                             "--duration", "26", "--allow-failures"])
time.sleep(4)


def probe():
    """A miner's verdict latency now (median of 4 shares, seconds)."""
    r = e.minersim(loka.port, "--miners", "1", "--shares", "4", "--rate",
                   "20", "--user", "bc1qProbeAddr.probe")
    return r.get("latency_us", {}).get("p50", 0) / 1e6


# Journal before verdict: while the disk takes the journal, no verdict
# waits anywhere near verdict_wait, and none is sent unjournaled.
lat = probe()
check(lat < 0.1 and loka.metrics().get("loka_verdicts_unjournaled_total")
      == 0, "before: verdicts in %.1f ms, none sent unjournaled" %
      (lat * 1000))

# Fill the file system to the last byte.
filler = os.path.join(small, "filler")
with open(filler, "wb", buffering=0) as f:
    try:
        while True:
            f.write(b"\0" * 4096)
    except OSError:
        pass
    try:
        while True:
            f.write(b"\0")
    except OSError:
        pass
full_at = time.time()
check(loka.proc.wait_log(r"database unavailable", timeout=10),
      "the failing database writes are noticed")
check(loka.proc.wait_log(r"\[store\] the journal \S+ (takes no more "
                         r"events|cannot be written)", timeout=20),
      "the journal says it cannot keep up (error line)")
m = loka.metrics()
check(m.get("loka_store_journal_ok") == 0, "/metrics: journal_ok 0")
check(m.get("loka_store_journal_errors_total", 0) > 0,
      "/metrics: journal errors counted")
status, body = loka.get("/health/database")
check(status == 503 and body.get("journal_ok") is False,
      "/health/database: 503, journal not ok", (status, body))
status, _ = loka.get("/api/v1/status")
ok, st = loka.get("/api/v1/status")
check(st["database"]["up"] is False, "/api/v1/status: database up false",
      st.get("database"))
# Appends refused once the journal's buffer is full: /ready says so.
ready = e.wait_until(lambda: loka.get("/ready")[0] == 503, timeout=15)
check(ready, "/ready is 503 while the journal refuses events",
      loka.get("/ready"))
# The journal's file takes nothing: a verdict waits verdict_wait for it,
# then goes out anyway (mining goes on), counted.
lat = probe()
# (A session's held answers all go out at its first one's deadline: the
# median is below 600 ms, far above the milliseconds before.)
check(0.3 <= lat < 3, "while full: verdicts wait up to verdict_wait "
      "(600 ms) for the journal, then go out (median %.0f ms)" %
      (lat * 1000))
check(loka.metrics().get("loka_verdicts_unjournaled_total", 0) > 0,
      "/metrics: loka_verdicts_unjournaled_total counts them")
# Long enough for the journal's memory buffer to fill: events then wait
# in the rings, unjournaled, and must still all reach the books.
check(loka.proc.wait_log(r"takes no more events", timeout=15),
      "appends refused: events wait in memory")
time.sleep(max(0, 14 - (time.time() - full_at)))

os.unlink(filler)
freed_at = time.time()
check(loka.proc.wait_log(r"the journal \S+ takes events again", timeout=10),
      "the journal takes events again")
check(loka.proc.wait_log(r"database is back", timeout=15),
      "the database is back (%.1f s after space returned)"
      % (time.time() - freed_at))
check(loka.get("/ready")[0] == 200, "/ready is 200 again")
miners.p.wait(60)
time.sleep(1)
check(loka.stop() == 0, "loka exits 0")
log = loka.proc.text()
ps = pool.summary(stop=True)
books, want = books_sqlite(db), pool_books(ps)
check(ps["accepted"] > 500, "the pool accepted %d shares" % ps["accepted"])
check(books == want, "books == pool, exactly, per worker, after the disk "
      "was full", (sum(v[0] for v in books.values()), ps["accepted"]))
check("could not be kept" not in log, "no share event was refused")

# The next start finds the journal whole.
loka = Loka(config=cfg, args=["--pool", "stratum+tcp://acct@127.0.0.1:1"])
time.sleep(0.5)
check(loka.stop() == 0, "a second start exits 0")
log = loka.proc.text()
check("torn record" not in log and "damaged" not in log,
      "the journal has no torn or damaged record")
subprocess.call(["umount", small])
done()
