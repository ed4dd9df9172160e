#!/usr/bin/env python3
"""End-to-end: a fleet. Two Loka instances behind HAProxy (TCP, PROXY v2,
health checks on /ready) share one PostgreSQL. Simulated miners connect
through HAProxy; each instance's books carry its instance name; the
books equal the pool's count per worker; two instances settling the same
day at the same moment produce one result, and it shares the reward by
exactly the pool's accepted difficulty per worker.

Needs LOKA_TEST_PG_URL (scripts/test.sh starts a cluster) and haproxy;
skips (77) without them.
"""
import datetime
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import loka_e2e as e  # noqa: E402
from loka_e2e import Loka, Pool, check, done, free_port  # noqa: E402

PG_URL = os.environ.get("LOKA_TEST_PG_URL")
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
if not PG_URL or not os.access(HAPROXY, os.X_OK):
    print("# skip: needs LOKA_TEST_PG_URL and haproxy")
    sys.exit(77)


def psql(sql):
    out = subprocess.run(["psql", PG_URL, "-qAt", "-F", "|", "-c", sql],
                         capture_output=True, text=True, timeout=30)
    return out.stdout.strip()


psql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
pool = Pool("--difficulty", "0.00001", "--user-prefix", "acct.")
lokas = {}
for name in ("rack-a", "rack-b"):
    cfg = ("[server]\ntrusted_proxies = [\"127.0.0.1/32\"]\n"
           "[database]\nurl = \"%s\"\nspool_path = \"%s/%s.journal\"\n"
           "instance = \"%s\"\nshare_log = true\nbatch_interval = \"200ms\"\n"
           % (PG_URL, e.TMP, name, name))
    lokas[name] = Loka(config=cfg, args=[
        "--pool", "stratum+tcp://acct@127.0.0.1:%d" % pool.port])

# deploy/haproxy/haproxy.cfg as it is, with loopback addresses in place
# of its two example servers.
front = free_port()
SRC = os.environ.get("LOKA_SOURCE_DIR",
                     os.path.join(os.path.dirname(__file__), "..", ".."))
with open(os.path.join(SRC, "deploy", "haproxy", "haproxy.cfg")) as f:
    example = f.read()
check(example.count("    server loka-") == 2 and "bind :3333" in example,
      "the example has its bind and two servers")
servers = "".join("    server %s 127.0.0.1:%d check port %d\n" %
                  (name, lk.port, lk.metrics_port)
                  for name, lk in lokas.items())
text = re.sub(r"(    server loka-.*\n)+", servers,
              example.replace("bind :3333", "bind 127.0.0.1:%d" % front))
hcfg = os.path.join(e.TMP, "haproxy.cfg")
with open(hcfg, "w") as f:
    f.write(text)
check(subprocess.run([HAPROXY, "-c", "-f", hcfg], capture_output=True,
                     timeout=30).returncode == 0, "haproxy -c: the example "
      "is valid")
haproxy = e.Proc("haproxy", [HAPROXY, "-db", "-f", hcfg])
time.sleep(2.5)  # two health checks (rise 2)
check(haproxy.alive(), "haproxy runs", haproxy.text()[-300:])

ms = e.minersim(front, "--miners", "6", "--shares", "5", "--rate", "10",
                "--user", "bc1qFleet.rig%d", "--source-ips",
                "127.0.0.21-127.0.0.26")
check(ms.get("_rc") == 0 and ms.get("accepted") == 30,
      "6 miners through HAProxy: 30 shares accepted",
      (ms.get("_rc"), ms.get("accepted"), ms.get("_log", "")[-300:]))
for name, lk in lokas.items():
    check(re.search(r"127\.0\.0\.2[1-6]", lk.proc.text()),
          "%s sees the miners' own addresses (PROXY v2)" % name)
    check(lk.stop() == 0, "%s exits 0" % name)
haproxy.stop()
ps = pool.summary(stop=True)

rows = psql("SELECT instance, COUNT(*) FROM share_log GROUP BY instance "
            "ORDER BY instance")
by = dict(r.split("|") for r in rows.splitlines() if r)
check(set(by) == {"rack-a", "rack-b"} and
      sum(int(v) for v in by.values()) == ps["accepted"],
      "each instance's books carry its name, and add up to the pool's "
      "count", (by, ps["accepted"]))
prog = psql("SELECT instance FROM store_progress ORDER BY instance")
check(prog.splitlines() == ["rack-a", "rack-b"],
      "one progress mark per instance", prog)
books, want = e.books_pg(PG_URL), e.pool_books(ps)
check(books == want, "books == pool per worker across both instances",
      (books, want))

# Both instances settle the day at the same moment: one result.
today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
out = subprocess.run([e.LOKA, "earnings", "add", "--pool", "cli", "--date",
                      today, "--reward", "100000000", "--database", PG_URL],
                     capture_output=True, text=True, timeout=30)
check(out.returncode == 0, "the day's reward recorded", out.stderr)
# They take turns on an advisory lock of the pool and day: while another
# session holds it (2 s), both wait, then both succeed, one after the
# other, each replacing the day's rows.
pool_id = psql("SELECT id FROM pools WHERE name = 'cli'")
holder = subprocess.Popen(["psql", PG_URL, "-qAt", "-c",
                           "BEGIN; SELECT pg_advisory_xact_lock(hashtext("
                           "'loka-settle:%s:%s')); SELECT pg_sleep(2); "
                           "COMMIT;" % (pool_id, today)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
time.sleep(0.5)
t0 = time.time()
settles = [subprocess.Popen([e.LOKA, "settle", "--pool", "cli", "--date",
                             today, "--database", PG_URL],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True) for _ in range(2)]
results = [(p.wait(60), p.stderr.read()) for p in settles]
waited = time.time() - t0
holder.wait(30)
check(all(rc == 0 for rc, _ in results),
      "two settlements at once both succeed", results)
check(waited >= 1.0, "they waited for the day's lock (%.1f s)" % waited)
dist = psql("SELECT w.name, d.accepted_difficulty, d.reward_sats FROM "
            "distributions d JOIN workers w ON w.id = d.worker_id")
rows = [r.split("|") for r in dist.splitlines() if r]
check(len(rows) == 6 and sum(int(r[2]) for r in rows) == 100000000,
      "one result: 6 rows, the reward shared once", dist)
pool_diff = {n.split("_", 1)[1]: w["accepted_difficulty"]
             for n, w in ps["workers"].items()}
check(all(abs(float(r[1]) - pool_diff[r[0]]) < 1e-12 for r in rows),
      "each worker's part is by exactly the pool's accepted difficulty",
      (rows, pool_diff))
done()
