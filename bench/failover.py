#!/usr/bin/env python3
"""bench/failover.py [--runs N] [--build DIR]: how long miners are without
valid work when their pool fails, in aggregate mode (docs/benchmarks.md).

Loka in aggregate mode with two test pools (main preferred, backup as
subscribed standby) and a miner connected through it. Each run fails the
main pool one of two ways, then measures from that moment to the first
job from the backup reaching the miner (the time it has no valid work):
- killed: the pool process dies (SIGKILL; its connection closes);
- hung: the pool stops (SIGSTOP; connection open, nothing more comes),
  found by the silence of 2.5 of its job intervals (--notify-interval
  1 s here, so about 2.5 s; a real pool's jobs come every 30-60 s).
Prints each run and the median. Loopback only; cleans up what it starts.
A tool, not a test.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("--runs", type=int, default=5)
ap.add_argument("--build", default=os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "build", "gcc"))
a = ap.parse_args()
LOKA = os.path.join(a.build, "loka-stratum")
POOLSIM = os.path.join(a.build, "loka-poolsim")
tmp = tempfile.mkdtemp(prefix="loka-failover-")
procs = []


def start(argv, log):
    p = subprocess.Popen(argv, stdout=open(log, "w"),
                         stderr=subprocess.STDOUT)
    procs.append(p)
    return p


def wait_file(path, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path) and open(path).read().strip():
            return open(path).read().strip()
        time.sleep(0.02)
    raise RuntimeError("no " + path)


def pool(name):
    pf = os.path.join(tmp, name + ".port")
    p = start([POOLSIM, "--bind", "127.0.0.1:0", "--port-file", pf,
               "--difficulty", "0.001", "--notify-interval", "1"],
              os.path.join(tmp, name + ".log"))
    return p, int(wait_file(pf))


def one(kind, n):
    main, mport = pool("main%d" % n)
    backup, bport = pool("backup%d" % n)
    cfg = os.path.join(tmp, "loka%d.toml" % n)
    with open(cfg, "w") as f:
        f.write('[server]\nmode = "aggregate"\n[metrics]\nenabled = false\n'
                '[database]\nurl = "sqlite://%s/b%d.db"\n'
                '[[pools]]\nname = "main"\nurl = "stratum+tcp://127.0.0.1:%d"'
                '\npriority = 0\n[[pools]]\nname = "backup"\n'
                'url = "stratum+tcp://127.0.0.1:%d"\npriority = 1\n'
                % (tmp, n, mport, bport))
    log = os.path.join(tmp, "loka%d.log" % n)
    loka = start([LOKA, "start", "-c", cfg, "--bind", "127.0.0.1:0"], log)
    end = time.time() + 10
    port = None
    while time.time() < end and port is None:
        m = re.search(r"\(port (\d+)\)", open(log).read())
        port = int(m.group(1)) if m else None
        time.sleep(0.05)
    s = socket.create_connection(("127.0.0.1", port))
    f = s.makefile("rwb", buffering=0)
    f.write(b'{"id":1,"method":"mining.subscribe","params":[]}\n'
            b'{"id":2,"method":"mining.authorize","params":["bc1qF.r","x"]}'
            b'\n')
    s.settimeout(10)
    notifies = []

    def read_until(t_end):
        buf = b""
        while time.time() < t_end:
            try:
                s.settimeout(max(0.01, t_end - time.time()))
                data = s.recv(65536)
            except socket.timeout:
                break
            if not data:
                break
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                m = json.loads(line)
                if m.get("method") == "mining.notify":
                    notifies.append((time.time(), m["params"][8]))
    read_until(time.time() + 3)      # mining on main
    before = len(notifies)
    t0 = time.time()
    main.send_signal(signal.SIGKILL if kind == "killed" else signal.SIGSTOP)
    read_until(t0 + 8)
    after = [t for t, clean in notifies[before:] if clean]
    gap = after[0] - t0 if after else float("nan")
    s.close()
    for p in (loka, main, backup):
        if kind == "hung" and p is main:
            p.send_signal(signal.SIGCONT)
        p.kill()
        p.wait()
    return gap


try:
    for kind in ("killed", "hung"):
        gaps = []
        for n in range(a.runs):
            g = one(kind, len(gaps) + (0 if kind == "killed" else 100))
            gaps.append(g)
            print("%s run %d: %.3f s without valid work" % (kind, n + 1, g))
        gaps.sort()
        print("%s: median %.3f s over %d runs (min %.3f, max %.3f)" %
              (kind, gaps[len(gaps) // 2], len(gaps), gaps[0], gaps[-1]))
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
    shutil.rmtree(tmp, ignore_errors=True)
