#!/usr/bin/env python3
"""End-to-end: aggregate mode against pools that break the rules.

A scripted pool on loopback is the preferred pool; a well-behaved test
pool is the backup. The scripted pool sends an oversize merkle branch,
extranonce sizes no miner could use, a flood of jobs, answers to ids
Loka never used, no answer to the shares it is sent, or no more jobs
(silence). Each time Loka drops it with a logged reason (counted
against its breaker) or, when silent, leaves it, stays up, and the
miners mine on the backup without losing their connections; the switch
is counted in loka_pool_switches_total with its reason.
"""
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import loka_e2e as e  # noqa: E402
from loka_e2e import Loka, Pool, check, done  # noqa: E402


class ScriptedPool:
    """A Stratum pool that behaves until told to misbehave (fault)."""

    def __init__(self, fault):
        self.fault = fault
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(8)
        self.port = self.srv.getsockname()[1]
        self.conns = 0
        self.stop = False
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        self.srv.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.srv.accept()
            except socket.timeout:
                continue
            self.conns += 1
            threading.Thread(target=self.serve, args=(c,),
                             daemon=True).start()

    def job(self, n, branch=()):
        return {"id": None, "method": "mining.notify", "params": [
            "j%d" % n, "00" * 32, "01000000010000000000000000000000"
            "00000000000000000000000000000000000000000000ffffffff20",
            "ffffffff0100f2052a010000001976a914" + "00" * 20 +
            "88ac00000000", list(branch), "20000000", "1d00ffff",
            "%08x" % int(time.time()), True]}

    def serve(self, c):
        f = c.makefile("rwb", buffering=0)

        def send(o):
            f.write((json.dumps(o) + "\n").encode())
        n = 0
        c.settimeout(0.05)
        started = None
        buf = b""
        try:
            while not self.stop:
                try:
                    data = c.recv(65536)
                    if not data:
                        return
                    buf += data
                except socket.timeout:
                    data = None
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    m = json.loads(line)
                    meth = m.get("method")
                    if meth == "mining.subscribe":
                        n2 = 1 if self.fault == "extranonce" else 4
                        send({"id": m["id"], "error": None, "result": [
                            [["mining.notify", "1"]], "aabbccdd", n2]})
                        send({"id": None, "method":
                              "mining.set_difficulty",
                              "params": [0.00001]})
                        n += 1
                        send(self.job(n))
                        started = last_job = time.time()
                        quiet_at = started + 2
                    elif meth == "mining.configure":
                        send({"id": m["id"], "error": None, "result": {
                            "version-rolling": True,
                            "version-rolling.mask": "1fffe000"}})
                    elif meth == "mining.submit" and self.fault == "mute":
                        pass  # jobs, answers, but never a verdict
                    else:
                        send({"id": m["id"], "error": None,
                              "result": True})
                # silent: jobs every 0.5 s, none for 6 s, then jobs again
                # (Loka must not take the miners back before its
                # failback_delay of 60 s).
                if (self.fault == "silent" and started is not None and
                        not quiet_at <= time.time() < quiet_at + 6 and
                        time.time() - last_job >= 0.5):
                    n += 1
                    send(self.job(n))
                    last_job = time.time()
                if started is None or time.time() - started < 2:
                    continue
                # Behaved for 2 s (miners work for it): now the fault.
                if self.fault == "branch":
                    n += 1
                    send(self.job(n, ["00" * 32] * 40))
                elif self.fault == "flood":
                    for _ in range(30):
                        n += 1
                        send(self.job(n))
                elif self.fault == "unknown_id":
                    send({"id": 987654, "error": None, "result": True})
                started = time.time() + 3600
        except (OSError, ValueError):
            return
        finally:
            c.close()


REASONS = {
    "branch": r"sent a merkle branch of 40 entries",
    "extranonce": r"gave extranonce sizes Loka cannot use",
    "flood": r"sent more than \d+ jobs within a second",
    "unknown_id": r"answered a request never sent",
    "mute": r"left a share unanswered for 5 s",
    "silent": r"to pool backup: no new job from pool hostile within 2\.5 "
              r"job intervals",
}

for fault, reason in REASONS.items():
    bad = ScriptedPool(fault)
    backup = Pool("--difficulty", "0.00001", "--user-prefix", "acct.",
                  "--notify-interval", "1")
    cfg = """[server]
mode = "aggregate"
[aggregate]
start_difficulty = 0.00001
[[pools]]
name = "hostile"
url = "stratum+tcp://127.0.0.1:%d"
username = "acct"
priority = 0
[[pools]]
name = "backup"
url = "stratum+tcp://127.0.0.1:%d"
username = "acct"
priority = 1
""" % (bad.port, backup.port)
    loka = Loka(config=cfg)
    rigs = e.minersim(loka.port, "--miners", "3", "--rate", "4",
                      "--duration", "9" if fault in ("mute", "silent")
                      else "6",
                      "--user", "bc1qH.rig%d", "--allow-failures")
    # Silence is 3 s without a job, after 2 s of jobs.
    check(loka.proc.wait_log("pool hostile " + reason,
                             timeout=10 if fault == "silent" else 5),
          "%s: Loka drops the pool with the reason logged" % fault,
          [ln for ln in loka.proc.text().splitlines() if "[hub]" in ln])
    check(loka.proc.alive(), "%s: Loka is still up" % fault)
    if fault == "silent":
        check(loka.proc.wait_log(r"pool hostile sends jobs again after "
                                 r"\d+\.\d s of silence", timeout=10),
              "silent: the pool's jobs coming back are noticed")
    bs = backup.summary()
    check(bs["accepted"] > 0 and bs["rejected"] == 0,
          "%s: the miners mine on the backup (%d accepted there)" %
          (fault, bs["accepted"]), bs)
    check(rigs.get("reconnects") == 0 and rigs.get("disconnects") == 0,
          "%s: miners kept their connections" % fault,
          {k: rigs.get(k) for k in ("reconnects", "disconnects",
                                    "accepted", "rejected")})
    st, body = loka.get("/api/v1/pools")
    hostile = [p for p in body.get("pools", []) if p["name"] == "hostile"]
    check(hostile and hostile[0]["upstream"]["active"] is False,
          "%s: the hostile pool is not the active one" % fault, hostile)
    # A pool that never worked (its sizes refused at subscribe) moves
    # nobody away; the others had the miners: one switch, with its reason
    # (the moves away from the hostile pool are the ones looked at).
    want = {} if fault == "extranonce" else {
        'loka_pool_switches_total{from="hostile",to="backup",reason="%s"}'
        % ("silent" if fault == "silent" else "failed"): 1}
    sw = {k: v for k, v in loka.metrics().items()
          if k.startswith('loka_pool_switches_total{from="hostile"')}
    check(sw == want, "%s: the switch is counted with its reason" % fault,
          sw)
    check(loka.stop() == 0, "%s: Loka stops cleanly" % fault)
    bad.stop = True
    backup.proc.stop()
done()
