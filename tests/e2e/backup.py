#!/usr/bin/env python3
"""End-to-end: backups and the journal.

A SQLite backup taken while Loka mines, restored after Loka stopped: the
next start writes into the restored database every share since the
backup from the journal, and the books equal the pool's count exactly,
per worker. A restore while Loka runs is refused; the backup is one
standalone file. A database restored behind a running Loka's back is
noticed and brought up to date from the journal.
"""
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import loka_e2e as e  # noqa: E402
from loka_e2e import Loka, Pool, books_sqlite, check, done, pool_books  # noqa: E402,E501

DIFF = "0.00001"
def cli(*args):
    p = subprocess.run([e.LOKA] + list(args), capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


db = os.path.join(e.TMP, "farm.db")
backup = os.path.join(e.TMP, "farm-backup.db")
cfg = ("[database]\nurl = \"sqlite://%s\"\nbatch_interval = \"200ms\"\n"
       "instance = \"rig-b\"\n" % db)
cfg_path = os.path.join(e.TMP, "backup.toml")
with open(cfg_path, "w") as f:
    f.write(cfg)

pool = Pool("--difficulty", DIFF, "--user-prefix", "acct.")
loka = Loka(config=cfg, args=["--pool", "stratum+tcp://acct@127.0.0.1:%d" %
                              pool.port])
miners = e.Proc("minersim", [e.MINERSIM, "--url",
                             "stratum+tcp://127.0.0.1:%d" % loka.port,
                             "--miners", "3", "--rate", "5",
                             "--duration", "8"])
time.sleep(3)
rc, out = cli("database", "backup", backup, "-c", cfg_path)
check(rc == 0 and "database identity" in out, "backup while Loka mines",
      out)
check(not os.path.exists(backup + "-wal") and
      not os.path.exists(backup + ".tmp"), "the backup is one file")
with sqlite3.connect(backup) as c:
    at_backup = c.execute("SELECT last_seq FROM store_progress WHERE "
                          "instance = 'rig-b'").fetchone()[0]
check(at_backup > 0, "the backup holds some of the shares (%d events)"
      % at_backup)
rc, out = cli("database", "restore", backup, "--yes", "-c", cfg_path)
check(rc == 1 and "stop Loka" in out, "a restore while Loka runs is "
      "refused", out)
# Behind Loka's back (not through the CLI): the database goes back in
# time while Loka writes it. Loka notices and replays from the journal.


def progress():
    with sqlite3.connect(db) as c:
        return c.execute("SELECT last_seq FROM store_progress WHERE "
                         "instance = 'rig-b'").fetchone()[0]


check(e.wait_until(lambda: progress() > at_backup, timeout=5),
      "Loka has written past the backup")
src, dst = sqlite3.connect(backup), sqlite3.connect(db)
src.backup(dst)
src.close()
dst.close()
check(loka.proc.wait_log(r"restored from a backup under this Loka",
                         timeout=10),
      "a database restored under a running Loka is noticed")
check(loka.proc.wait_log(r"database is back", timeout=10),
      "... and brought up to date from the journal")
miners.p.wait(60)
time.sleep(1)
check(loka.stop() == 0, "loka exits 0")
ps = pool.summary(stop=True)
want = pool_books(ps)
check(books_sqlite(db) == want, "the books == pool before the restore")

rc, out = cli("database", "restore", backup, "-c", cfg_path)
check(rc == 2 and "--yes" in out, "restore asks for --yes", out)
rc, out = cli("database", "restore", backup, "--yes", "-c", cfg_path)
check(rc == 0 and "since the backup" in out, "restore with Loka stopped",
      out)
check(books_sqlite(db) != want, "the restored database is the backup's")
loka = Loka(config=cfg, args=["--pool", "stratum+tcp://acct@127.0.0.1:1"])
check(loka.proc.wait_log(r"journal replayed", timeout=10),
      "start replays the journal since the backup")
check(loka.stop() == 0, "loka exits 0 after the replay")
got = books_sqlite(db)
check(got == want, "books == pool, exactly, per worker, after restoring "
      "the backup", (got, want))
rc, out = cli("database", "backup", backup, "--database",
              "postgresql://loka@127.0.0.1:1/loka")
check(rc == 2 and "pg_dump" in out, "PostgreSQL backups: pg_dump", out)
done()
