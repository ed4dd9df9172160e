"""Helpers for Loka's end-to-end tests: start the real loka-stratum,
loka-poolsim and loka-minersim on loopback, talk raw Stratum, check.

Every address is on 127.0.0.0/8; every wait is bounded.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from tap import check, finish, free_port  # noqa: E402,F401

BIN_DIR = os.environ.get("LOKA_BIN_DIR") or os.path.dirname(
    os.environ["LOKA_BIN"])
LOKA = os.path.join(BIN_DIR, "loka-stratum")
POOLSIM = os.path.join(BIN_DIR, "loka-poolsim")
MINERSIM = os.path.join(BIN_DIR, "loka-minersim")

TMP = tempfile.mkdtemp(prefix="loka-e2e-")
_procs = []


def done():
    """Stop every process started, remove the work directory when every
    check passed (kept for a look when one failed), print the count."""
    import shutil
    import tap
    for p in _procs:
        p.kill()
    if tap.failed == 0:
        shutil.rmtree(TMP, ignore_errors=True)
    finish()


def wait_until(fn, timeout=10.0, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return fn()


class Proc:
    """A child process whose output goes to a log file."""

    def __init__(self, name, argv, env=None):
        self.name = name
        self.log = os.path.join(TMP, "%s-%d.log" % (name, len(_procs)))
        self.out = open(self.log, "w")
        e = dict(os.environ)
        e.update(env or {})
        self.p = subprocess.Popen(argv, stdout=self.out,
                                  stderr=subprocess.STDOUT, env=e,
                                  stdin=subprocess.DEVNULL)
        _procs.append(self)

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, timeout=10.0):
        rx = re.compile(pattern)
        return wait_until(lambda: rx.search(self.text()), timeout)

    def send_signal(self, sig):
        if self.p.poll() is None:
            self.p.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=20.0):
        self.send_signal(sig)
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return self.p.wait()

    def alive(self):
        return self.p.poll() is None

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


class Pool:
    """loka-poolsim on a loopback port; summary() reads its JSON."""

    def __init__(self, *args, port=0):
        self.port_file = os.path.join(TMP, "pool-%d.port" % len(_procs))
        self.summary_file = self.port_file + ".json"
        self.proc = Proc("poolsim", [POOLSIM, "--bind", "127.0.0.1:%d" %
                                     port, "--port-file", self.port_file,
                                     "--summary", self.summary_file] +
                         list(args))
        if not wait_until(lambda: os.path.exists(self.port_file) and
                          open(self.port_file).read().strip()):
            raise RuntimeError("poolsim did not start:\n" + self.proc.text())
        self.port = int(open(self.port_file).read().strip())

    def summary(self, stop=False):
        if os.path.exists(self.summary_file):
            os.unlink(self.summary_file)
        if stop:
            self.proc.stop()
        else:
            self.proc.send_signal(signal.SIGUSR1)
        wait_until(lambda: os.path.exists(self.summary_file))
        with open(self.summary_file) as f:
            return json.load(f)


class Loka:
    """loka-stratum with a generated configuration on a loopback port."""

    def __init__(self, config="", args=(), env=None, bind="127.0.0.1:0"):
        self.config = os.path.join(TMP, "loka-%d.toml" % len(_procs))
        with open(self.config, "w") as f:
            f.write(config)
        # Metrics on a free port, so tests can run side by side.
        e = {"LOKA_METRICS_BIND": "127.0.0.1:0"}
        # Books of its own, unless the test chose them.
        if "[database]" not in config:
            n = len(_procs)
            e["LOKA_DATABASE_URL"] = "sqlite://%s/books-%d.db" % (TMP, n)
            e["LOKA_DATABASE_SPOOL_PATH"] = "%s/spool-%d" % (TMP, n)
        e.update(env or {})
        self.proc = Proc("loka", [LOKA, "start", "-c", self.config,
                                  "--bind", bind, "-v"] +
                         list(args), e)
        m = self.proc.wait_log(r"listening for miners on \S+ \(port (\d+)\)")
        if not m or not self.proc.wait_log(r"ready \(pid"):
            raise RuntimeError("loka did not start:\n" + self.proc.text())
        self.port = int(m.group(1))
        m = self.proc.wait_log(r"metrics on http://[^:]+:(\d+)/metrics",
                               timeout=2)
        self.metrics_port = int(m.group(1)) if m else None

    def get(self, path):
        """(status, parsed JSON body) of GET path on the metrics port."""
        import urllib.error
        import urllib.request
        url = "http://127.0.0.1:%d%s" % (self.metrics_port, path)
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def metrics(self):
        """The /metrics scrape as {name{labels}: value}."""
        import urllib.request
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" %
                                    self.metrics_port, timeout=5) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
        return out

    def stop(self, sig=signal.SIGTERM):
        return self.proc.stop(sig)

    def accounting(self):
        """Pool and worker totals from the shutdown log."""
        pools, workers = {}, {}
        rx = re.compile(r"\[accounting\] (pool (\S+)|worker (\S+) / (\S+) "
                        r"/ (\S+)): accepted (\d+) \(difficulty ([^)]*)\), "
                        r"rejected (\d+) stale, (\d+) duplicate, (\d+) "
                        r"low_difficulty, (\d+) unauthorized, (\d+) other")
        for m in rx.finditer(self.proc.text()):
            c = {"accepted": int(m.group(6)),
                 "accepted_difficulty": float(m.group(7)),
                 "stale": int(m.group(8)), "duplicate": int(m.group(9)),
                 "low_difficulty": int(m.group(10)),
                 "unauthorized": int(m.group(11)),
                 "other": int(m.group(12))}
            c["rejected"] = sum(c[k] for k in ("stale", "duplicate",
                                               "low_difficulty",
                                               "unauthorized", "other"))
            if m.group(2):
                pools[m.group(2)] = c
            else:
                workers[(m.group(3), m.group(4), m.group(5))] = c
        return pools, workers


# Each worker's accepted shares and difficulty in the books, keyed as the
# test pool names its workers (--user-prefix acct.): what the books must
# equal, exactly.
BOOKS_SQL = ("SELECT m.name, w.name, SUM(s.accepted), "
             "SUM(s.accepted_difficulty) FROM submissions s JOIN workers w "
             "ON w.id = s.worker_id JOIN miners m ON m.id = w.miner_id "
             "GROUP BY m.name, w.name")


def _books(rows, prefix):
    return {"%s%s_%s" % (prefix, m, w): (int(a), round(float(d), 12))
            for m, w, a, d in rows}


def books_sqlite(path, prefix="acct."):
    import sqlite3
    with sqlite3.connect(path) as db:
        return _books(db.execute(BOOKS_SQL), prefix)


def books_pg(url, prefix="acct."):
    out = subprocess.run(["psql", url, "-qAt", "-F", "|", "-c", BOOKS_SQL],
                         capture_output=True, text=True, timeout=30).stdout
    return _books([r.split("|") for r in out.splitlines() if r], prefix)


def pool_books(summary):
    """The test pool's accepted count and difficulty per worker."""
    return {n: (w["accepted"], round(w["accepted_difficulty"], 12))
            for n, w in summary["workers"].items() if w["accepted"] > 0}


def minersim(port, *args, timeout=120):
    """Run loka-minersim to completion; its summary as a dict."""
    summary = os.path.join(TMP, "miners-%d.json" % len(_procs))
    p = Proc("minersim", [MINERSIM, "--url", "stratum+tcp://127.0.0.1:%d" %
                          port, "--summary", summary] + list(args))
    try:
        rc = p.p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = -1
    s = {}
    if os.path.exists(summary):
        with open(summary) as f:
            s = json.load(f)
    s["_rc"] = rc
    s["_log"] = p.text()
    return s


class Client:
    """A raw Stratum connection."""

    def __init__(self, port, timeout=5.0):
        self.s = socket.create_connection(("127.0.0.1", port), timeout)
        self.s.settimeout(timeout)
        self.buf = b""

    def send(self, data):
        if isinstance(data, (dict, list)):
            data = json.dumps(data) + "\n"
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def line(self):
        """The next line (bytes, without newline), or None at EOF."""
        while b"\n" not in self.buf:
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                return None
            if not d:
                return None
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def msg(self):
        line = self.line()
        return json.loads(line) if line is not None else None

    def response(self, id, limit=50):
        """The response with this id, skipping notifications."""
        for _ in range(limit):
            m = self.msg()
            if m is None:
                return None
            if m.get("id") == id and "method" not in m:
                return m
        return None

    def closed(self, timeout=5.0):
        """True when the peer closes (reading and discarding data)."""
        self.s.settimeout(timeout)
        end = time.time() + timeout
        try:
            while time.time() < end:
                if not self.s.recv(65536):
                    return True
        except (socket.timeout, ConnectionResetError):
            return False
        return False

    def close(self):
        self.s.close()
