#!/usr/bin/env python3
"""End-to-end: the PostgreSQL primary dies; its streaming-replication
standby is promoted while miners mine. Loka, given both hosts in one URL
(target_session_attrs=read-write), moves to the new primary: it is the
same database (its identity came with the replication), and whatever the
old primary had not sent the standby yet is written again from Loka's
journal. Books == the pool's count, exactly, per worker.

Two throw-away clusters on loopback, made and removed here. Needs root
(the clusters run as the postgres user) and PostgreSQL's server
binaries; skips (77) otherwise.
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import loka_e2e as e  # noqa: E402
from loka_e2e import Loka, Pool, check, done, free_port  # noqa: E402

bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
if os.geteuid() != 0 or not bins or shutil.which("runuser") is None:
    print("# skip: needs root and PostgreSQL's server binaries")
    sys.exit(77)
BIN = bins[-1]
base = tempfile.mkdtemp(prefix="loka-pgfo-", dir="/tmp")
os.chmod(base, 0o755)
shutil.chown(base, "postgres", "postgres")
clusters = []


def pg(*argv, check_rc=True):
    p = subprocess.run(["runuser", "-u", "postgres", "--"] + list(argv),
                       capture_output=True, text=True, timeout=120)
    if check_rc and p.returncode != 0:
        raise RuntimeError("%s: %s" % (argv, p.stdout + p.stderr))
    return p


def start(data, port):
    pg(os.path.join(BIN, "pg_ctl"), "-D", data, "-l", data + ".log", "-w",
       "-t", "60", "-o", "-p %d -k %s -c listen_addresses=127.0.0.1"
       % (port, base), "start")
    clusters.append(data)


def cleanup():
    for d in clusters:
        pg(os.path.join(BIN, "pg_ctl"), "-D", d, "-m", "immediate", "stop",
           check_rc=False)
    shutil.rmtree(base, ignore_errors=True)


try:
    p1, p2 = free_port(), free_port()
    primary = os.path.join(base, "primary")
    standby = os.path.join(base, "standby")
    pg(os.path.join(BIN, "initdb"), "-D", primary, "-U", "postgres", "-A",
       "trust", "-E", "UTF8", "--locale=C", "--no-sync")
    with open(os.path.join(primary, "pg_hba.conf"), "w") as f:
        f.write("local all all trust\nhost all all 127.0.0.1/32 trust\n"
                "host replication all 127.0.0.1/32 trust\n")
    with open(os.path.join(primary, "postgresql.auto.conf"), "a") as f:
        f.write("wal_level = replica\nmax_wal_senders = 4\n"
                "fsync = off\n")
    start(primary, p1)
    pg(os.path.join(BIN, "createdb"), "-h", "127.0.0.1", "-p", str(p1),
       "-U", "postgres", "loka_test")
    pg(os.path.join(BIN, "pg_basebackup"), "-h", "127.0.0.1", "-p", str(p1),
       "-U", "postgres", "-D", standby, "-R", "-X", "stream",
       # An immediate checkpoint: the default, spread, waits most of
       # checkpoint_timeout for it.
       "-c", "fast", "--no-sync")
    start(standby, p2)
    url = ("postgresql://postgres@127.0.0.1:%d,127.0.0.1:%d/loka_test?"
           "target_session_attrs=read-write" % (p1, p2))
    check(True, "a primary on %d, its standby on %d" % (p1, p2))

    pool = Pool("--difficulty", "0.00001", "--user-prefix", "acct.")
    cfg = ("[database]\nurl = \"%s\"\nspool_path = \"%s/journal\"\n"
           "batch_interval = \"200ms\"\nconnection_timeout = 2\n"
           "instance = \"rig-f\"\n" % (url, e.TMP))
    loka = Loka(config=cfg, args=["--pool", "stratum+tcp://acct@127.0.0.1:%d"
                                  % pool.port])
    miners = e.Proc("minersim", [e.MINERSIM, "--url",
                                 "stratum+tcp://127.0.0.1:%d" % loka.port,
                                 "--miners", "4", "--rate", "5",
                                 "--duration", "14", "--user",
                                 "bc1qFailover.rig%d"])
    time.sleep(4)
    # The primary dies (no shutdown: what it had not streamed is gone),
    # the standby takes over.
    pg(os.path.join(BIN, "pg_ctl"), "-D", primary, "-m", "immediate", "stop")
    t0 = time.time()
    check(loka.proc.wait_log(r"database unavailable", timeout=10),
          "Loka notices the primary is gone")
    pg(os.path.join(BIN, "pg_ctl"), "-D", standby, "-w", "promote")
    check(loka.proc.wait_log(r"database is back", timeout=20),
          "Loka writes to the promoted standby (%.1f s after the primary "
          "died)" % (time.time() - t0))
    check("refuse" not in loka.proc.text() and "REFUSED" not in
          loka.proc.text(), "the promoted standby is the same database "
          "(its identity was replicated)")
    miners.p.wait(60)
    time.sleep(1)
    check(loka.stop() == 0, "loka exits 0")
    ps = pool.summary(stop=True)
    books = e.books_pg("postgresql://postgres@127.0.0.1:%d/loka_test" % p2)
    want = e.pool_books(ps)
    check(ps["accepted"] > 0 and books == want,
          "books on the new primary == pool per worker, exactly (%d "
          "shares)" % ps["accepted"], (books, want))
finally:
    cleanup()
done()
