#!/usr/bin/env python3
"""End-to-end: hostile input against the real loka-stratum.

Every case sends what a broken or malicious client sends and checks the
answer docs/security.md promises (a JSON-RPC error code, an HTTP status, a
close, a ban) and that Loka stays up. Each case speaks from its own
127.0.0.x address, so that one case's violations never ban another. All
the while, loka-minersim mines real shares from 127.0.0.2 through the same
Loka; at the end every one of its shares must be accepted, at the pool and
in Loka's /metrics.
"""
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import loka_e2e  # noqa: E402
from loka_e2e import (Client, Loka, Pool, Proc, check, done,  # noqa: E402
                      wait_until)

DIFF = "0.00001"
LINE_MAX = 16384


class Conn(Client):
    """A raw connection from a chosen 127.0.0.x source address."""

    def __init__(self, port, src, timeout=5.0, host="127.0.0.1"):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.s = socket.socket(fam, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        if src is not None:
            self.s.bind((src, 0))
        self.s.connect((host, port))
        self.buf = b""

    def closed(self, timeout=5.0):
        """True when Loka closes (data before the close is discarded)."""
        self.s.settimeout(timeout)
        end = time.time() + timeout
        try:
            while time.time() < end:
                if not self.s.recv(65536):
                    return True
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
        return False

    def silent_close(self, timeout=5.0):
        """True when Loka closes without sending a byte."""
        self.s.settimeout(timeout)
        try:
            return self.s.recv(65536) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def error(self, timeout=5.0):
        """The next message's error code, or None."""
        self.s.settimeout(timeout)
        try:
            m = self.msg()
        except (ValueError, ConnectionResetError):
            return None
        if not m or not isinstance(m.get("error"), list):
            return None
        return m["error"][0]

    def err(self, id, limit=50):
        """The error code of the response to id (notifications skipped),
        or None."""
        try:
            r = self.response(id, limit)
        except (ValueError, OSError):
            return None
        if not r or not isinstance(r.get("error"), list):
            return None
        return r["error"][0]

    def alive(self, id="alive"):
        """The session still answers a ping."""
        try:
            self.send({"id": id, "method": "mining.ping"})
            r = self.response(id)
        except OSError:
            return False
        return r is not None and r.get("result") == "pong"


_ip = [10]


def ip():
    """A fresh source address for the next case."""
    _ip[0] += 1
    return "127.0.0.%d" % _ip[0]


def pool_url(pool):
    return "stratum+tcp://127.0.0.1:%d" % pool.port


# --- the test pool, Loka, and an honest miner all along -------------------
# An empty pool username passes logins through unchanged, so the test
# pool's --user-prefix refuses any login not starting with "acct.": the
# failed-authorize case needs refusals from the pool itself.
pool = Pool("--difficulty", DIFF, "--user-prefix", "acct.")
cfg = """
[server]
connection_timeout = "5s"
trusted_proxies = ["127.0.0.9/32"]
max_line_length = %d
[security]
rate_limit = 50
rate_limit_burst = 100
max_violations = 5
violation_window = "1m"
ban_duration = "3s"
max_connections_per_ip = 4
max_auth_failures = 2
line_timeout = "2s"
[logging]
level = "info"
[[pools]]
name = "main"
url = "%s"
""" % (LINE_MAX, pool_url(pool))
loka = Loka(config=cfg)
port = loka.port
start = time.time()
honest = Proc("minersim-honest", [
    loka_e2e.MINERSIM, "--url", "stratum+tcp://127.0.0.1:%d" % port,
    "--source-ips", "127.0.0.2-127.0.0.2", "--miners", "2", "--rate", "3",
    "--duration", "22", "--dialect", "mixed", "--user", "acct.honest%d",
    "--summary", os.path.join(loka_e2e.TMP, "honest.json")])


def up():
    return loka.proc.alive()


def metric(name):
    return loka.metrics().get(name, 0)


# --- slow cases run in the background while the rest go on ---------------
slow = {}


def slow_drip():
    c = Conn(port, ip())
    t0 = time.time()
    data = b'{"id":1,"method":"mining.ping"}\n'
    closed_at = None
    c.s.settimeout(1.0)
    for b in data:
        try:
            c.s.send(bytes([b]))
            if not c.s.recv(65536):
                closed_at = time.time()
                break
        except socket.timeout:
            continue
        except OSError:
            closed_at = time.time()
            break
    slow["drip"] = (closed_at - t0) if closed_at else None


def half_connect():
    c = Conn(port, ip())
    t0 = time.time()
    c.send("CONNECT main:0 HTTP/1.1\r\nHost: x\r\n")
    ok = c.closed(timeout=8)
    slow["half_connect"] = (time.time() - t0) if ok else None


def half_method():
    c = Conn(port, ip())
    t0 = time.time()
    c.send("GE")
    ok = c.closed(timeout=8)
    slow["half_method"] = (time.time() - t0) if ok else None


def silent():
    c = Conn(port, ip())
    t0 = time.time()
    ok = c.silent_close(timeout=10)
    slow["silent"] = (time.time() - t0) if ok else None


threads = [threading.Thread(target=f, daemon=True)
           for f in (slow_drip, half_connect, half_method, silent)]
for t in threads:
    t.start()

# --- framing and JSON ------------------------------------------------------
c = Conn(port, ip())
c.send("{" + "x" * (LINE_MAX + 100) + "\n")
m = c.msg()
check(m and m["error"][0] == -32600 and "too long" in m["error"][1],
      "oversize line: error -32600 Line too long", m)
check(c.closed(), "... and a close")

c = Conn(port, ip())
try:
    c.send('{"id":1,"method":"mining.ping","params":["' + "a" * (1 << 20))
except OSError:
    pass
m = c.msg()
check(m and m["error"][0] == -32600,
      "1 MiB without a newline: error -32600", m)
check(c.closed(), "... and a close")

c = Conn(port, ip())
c.send("{this is not json\n")
check(c.error() == -32700, "invalid JSON: -32700")
check(c.alive(), "... and the session stays up")

c = Conn(port, ip())
c.send({"id": 1, "method": "mining.subscribe", "params": "notalist"})
check(c.error() == -32600, "params not an array: -32600")
c.send({"id": {"a": 1}, "method": "mining.ping"})
check(c.error() == -32600, "id an object: -32600")
c.send({"id": [1], "method": "mining.ping"})
check(c.error() == -32600, "id an array: -32600")
c.send({"id": 1, "method": None})
check(c.error() == -32600, "method null: -32600")
c.send({"id": 1, "method": 42})
check(c.error() == -32600, "method a number: -32600")
c.send('{"id":1,"id":2,"method":"mining.ping"}\n')
check(c.error() == -32700, "duplicate keys: -32700")
check(c.alive(), "... the session stays up through all of them")

c = Conn(port, ip())
c.send('{"id":123456789012345678901234567890,"method":"mining.ping"}\n')
check(c.error() == -32700, "an integer id beyond 64 bits: -32700")
c.send('{"id":1e400,"method":"mining.ping"}\n')
check(c.error() == -32700, "a real id beyond double: -32700")
c.send({"id": -7, "method": "mining.ping"})
check(c.response(-7) == {"id": -7, "result": "pong", "error": None},
      "a negative id comes back as it was")
c.send({"id": 1.5, "method": "mining.ping"})
check(c.response(1.5) is not None, "a fractional id comes back too")
c.send('{"id":8,"method":"mining.suggest_difficulty","params":[1e308]}\n')
r = c.response(8)
check(r is not None, "a huge difficulty is answered (by the pool)", r)
c.send('{"id":9,"method":"mining.suggest_difficulty","params":[-1]}\n')
r = c.response(9)
check(r is not None, "a negative difficulty is answered", r)
check(c.alive(), "... and the session stays up")

c = Conn(port, ip())
c.send(b'{"id":1,\x00"method":"mining.ping"}\n')
check(c.error() == -32700, "a NUL byte in a line: -32700")
c.send(b'{"id":2,"method":"mining.ping\\u0000"}\n')
check(c.error() == -32700, "an escaped NUL (\\u0000): -32700")
c.send(b'{"id":3,"method":"mining.authorize","params":["\xff\xfe.w","x"]}\n')
check(c.error() == -32700, "invalid UTF-8: -32700")
check(c.alive(), "... and the session stays up")

c = Conn(port, ip())
c.send({"id": 0, "method": "mining.ping"})
c.response(0)
c.send('{"id":1,"method":"mining.ping","params":' + "[" * 10000 + "\n")
check(c.error() == -32700, "10,000 nested '[': -32700 (depth bounded)")
c.send("[" * 5000 + "]" * 5000 + "\n")
check(c.error() == -32700, "5,000 nested arrays, closed: -32700")
check(c.alive(), "... and the session stays up")

c = Conn(port, ip())
c.send({"id": 0, "method": "mining.ping"})
c.response(0)
c.send('[{"id":1,"method":"mining.ping"},{"id":2,"method":"mining.ping"}]\n')
check(c.error() == -32600, "a JSON-RPC batch (array): -32600")
c.send("null\n")
check(c.error() == -32700, "a bare null (not an object): -32700")
c.send("\n\n\r\n\n")
c.send("   \t  \n")
check(c.error() == -32700, "a line of only whitespace: -32700")
c.send({"id": 5, "result": True, "error": None})
check(c.alive("after-empty"),
      "empty lines and a response-shaped line are ignored")

c = Conn(port, ip())
c.send('[{"id":1,"method":"mining.ping"}]\n')
check(c.error() == -32700, "a batch as the first bytes: -32700")
check(c.closed(), "... and a close")

c = Conn(port, ip())
c.send(b"\x00\x01\x02\x03garbage\n")
check(c.error() == -32700, "binary garbage as the first bytes: -32700")
check(c.closed(), "... and a close")

c = Conn(port, ip())
c.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40)
check(c.error() == -32700, "a TLS ClientHello on the plain port: -32700")
check(c.closed(), "... and a close")

c = Conn(port, ip())
c.send({"id": 0, "method": "mining.ping"})
c.response(0)
for i in range(17):
    c.send("bad line %d\n" % i)
errs = [c.error() for _ in range(17)]
check(all(e == -32700 for e in errs), "17 bad lines: 17 errors", errs)
check(c.closed(), "... then a close (at most 16 tolerated)")

# --- Stratum misuse ---------------------------------------------------------
c = Conn(port, ip())
c.send({"id": 1, "method": "mining.submit",
        "params": ["acct.x", "j", "00000000", "00000000", "00000000"]})
check(c.error() == 25, "submit before subscribe: error 25")
c.send({"id": 2, "method": "mining.subscribe", "params": ["evil/1"]})
c.response(2)
c.send({"id": 3, "method": "mining.submit",
        "params": ["acct.x", "j", "00000000", "00000000", "00000000"]})
check(c.err(3) == 24, "submit before authorize: error 24")
c.send({"id": 4, "method": "mining.submit", "params": ["acct.x"]})
check(c.err(4) == -32602, "submit with too few params: -32602")
c.send({"id": 5, "method": "mining.steal_all_the_coins", "params": []})
check(c.err(5) == -32601, "unknown method: -32601")
c.send({"id": None, "method": "mining.unknown_notification"})
check(c.alive(), "unknown methods and notifications never disconnect")

c = Conn(port, ip())
c.send({"id": 1, "method": "mining.subscribe", "params": ["evil/1"]})
c.response(1)
for i in range(3):
    c.send({"id": 10 + i, "method": "mining.authorize",
            "params": ["evil.w%d" % i, "guess%d" % i]})
got = []
for _ in range(12):
    try:
        g = c.msg()
    except (ValueError, OSError):
        g = None
    if g is None:
        break
    if "method" not in g:
        got.append(g)
codes = [g and (g.get("result"), g.get("error") and g["error"][0])
         for g in got]
check(any(g and g.get("error") and g["error"][0] == 24 and
          "failed authorizations" in g["error"][1] for g in got),
      "over max_auth_failures: error 24", codes)
check(c.closed(), "... and a close")

# --- HTTP and PROXY protocol ----------------------------------------------
for method in ("GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD"):
    c = Conn(port, ip())
    c.send("%s /api HTTP/1.1\r\nHost: x\r\n\r\n" % method)
    line = c.line()
    check(line and line.startswith(b"HTTP/1.1 400"),
          "HTTP %s: 400 Bad Request" % method, line)
    check(c.closed(), "... and a close")

c = Conn(port, ip())
c.send("CONNECT nowhere.example:3333 HTTP/1.1\r\nHost: x\r\n\r\n")
line = c.line()
check(line and line.startswith(b"HTTP/1.1 404"),
      "CONNECT to an unknown target: 404", line)
c = Conn(port, ip())
c.send("CONNECT http://evil/ HTTP/1.1\r\n\r\n")
line = c.line()
check(line and line.startswith(b"HTTP/1.1 400"),
      "a malformed CONNECT: 400", line)

c = Conn(port, ip())
c.send("PROXY TCP4 203.0.113.9 127.0.0.1 5555 3333\r\n")
check(c.silent_close(), "PROXY v1 from an untrusted peer: closed")
c = Conn(port, ip())
c.send(b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c" + b"\x01" * 12)
check(c.silent_close(), "PROXY v2 from an untrusted peer: closed")
c = Conn(port, "127.0.0.9")
c.send("PROXY TCP4 999.1.1.1 127.0.0.1 5555 3333\r\n")
check(c.silent_close(), "a bogus PROXY v1 from a trusted peer: closed")
c = Conn(port, "127.0.0.9")
c.send(b"\r\n\r\n\x00\r\nQUIT\n\x31\x11\x00\x0c" + b"\x01" * 12)
check(c.silent_close(), "a PROXY v2 of an unknown version: closed")
c = Conn(port, "127.0.0.9")
c.send(b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x04" + b"\x01" * 4)
check(c.silent_close(), "a PROXY v2 with a short address block: closed")
c = Conn(port, "127.0.0.9")
c.send("PROXY TCP4 198.51.100.20 127.0.0.1 5555 3333\r\n")
check(c.alive(), "a good PROXY v1 from the trusted peer still works")

# --- per-IP connection cap --------------------------------------------------
src = ip()
held = [Conn(port, src) for _ in range(4)]
check(all(h.alive() for h in held), "4 connections from one address")
extra = Conn(port, src)
m = extra.msg()
check(m and m["error"][0] == 20 and "your address" in m["error"][1],
      "the 5th from the same address: error 20, too many connections", m)
check(extra.closed(), "... and a close")
check(Conn(port, ip()).alive(), "another address is served meanwhile")
held[0].close()
time.sleep(0.3)
check(Conn(port, src).alive(), "a freed slot can be used again")
for h in held[1:]:
    h.close()

# --- rate limit: a burst over rate_limit_burst -----------------------------
c = Conn(port, ip())
c.send(b"".join(b'{"id":%d,"method":"mining.ping"}\n' % i
                for i in range(103)))
got = [c.msg() for _ in range(103)]
pongs = sum(1 for a in got if a and a.get("result") == "pong")
limited = [a for a in got if a and a.get("error")]
check(pongs >= 100 and pongs + len(limited) == 103 and len(limited) >= 1 and
      all(a["error"][0] == 20 and a["error"][1] == "Rate limit exceeded"
          for a in limited),
      "103 messages at once: 100 answered, the rest error 20 Rate limit "
      "exceeded", (pongs, limited[:2]))
time.sleep(0.2)  # 50/s: ten tokens back
check(c.alive(), "a few over the limit do not close the session")

# --- a burst: rate limit -> violations -> ban -> refused -> lifted ----------
src = ip()
c = Conn(port, src)
burst = b"".join(b'{"id":%d,"method":"mining.ping"}\n' % i
                 for i in range(10000))
answers = []


def blast():
    try:
        c.s.sendall(burst)
    except OSError:
        pass


bt = threading.Thread(target=blast, daemon=True)
t_burst = time.time()
bt.start()
try:
    while True:
        line = c.line()
        if line is None:
            break
        answers.append(json.loads(line))
except (OSError, ValueError):
    pass
bt.join(10)
pongs = sum(1 for a in answers if a.get("result") == "pong")
limited = sum(1 for a in answers if a.get("error") and
              a["error"][0] == 20 and "Rate limit" in a["error"][1])
check(pongs >= 50 and pongs < 10000,
      "a burst of 10,000: the first ones are answered", pongs)
check(limited <= 5 and (limited >= 1 or loka.proc.wait_log(
      r"over rate_limit \(50 messages per second\)", timeout=1)),
      "... then error 20 Rate limit exceeded (at most max_violations)",
      (limited, answers[-3:]))
check(len(answers) < 10000, "... and the connection is closed (banned)",
      len(answers))
check(loka.proc.wait_log(r"banned %s for 3s: rate_limit" %
                         re.escape(src), timeout=3),
      "the address is banned for ban_duration")
c2 = Conn(port, src)
check(c2.silent_close(), "a banned address is refused at accept")
mx = loka.metrics()
check(mx.get('loka_security_violations_total{kind="rate_limit"}', 0) >= 5,
      "/metrics: rate_limit violations counted", mx.get(
          'loka_security_violations_total{kind="rate_limit"}'))
check(mx.get("loka_bans_total", 0) >= 1 and
      mx.get("loka_bans_active", 0) >= 1, "/metrics: the ban is counted")
check(mx.get('loka_security_refused_total{reason="banned"}', 0) >= 1,
      "/metrics: the refusal is counted")
wait_until(lambda: time.time() - t_burst > 3.3, timeout=5)
check(wait_until(lambda: Conn(port, src).alive(), timeout=3),
      "after ban_duration the address is let in again")

# --- the slow ones ---------------------------------------------------------
for t in threads:
    t.join(12)
d = slow.get("drip")
check(d is not None and 1.5 <= d <= 4.5,
      "one byte per second: closed by line_timeout (2s)", d)
d = slow.get("half_connect")
check(d is not None and 1.5 <= d <= 4.5,
      "half a CONNECT request: closed by line_timeout", d)
d = slow.get("half_method")
check(d is not None and 1.5 <= d <= 4.5,
      "half an HTTP method (\"GE\"): closed by line_timeout", d)
d = slow.get("silent")
check(d is not None and 4.5 <= d <= 8,
      "a silent connection: closed by connection_timeout (5s)", d)
mx = loka.metrics()
check(mx.get('loka_security_sessions_closed_total{reason="line_timeout"}',
             0) >= 3, "/metrics: line timeouts counted")
check(mx.get('loka_security_violations_total{kind="protocol"}', 0) >= 8,
      "/metrics: protocol violations counted by kind")
check(mx.get('loka_security_violations_total{kind="auth_failures"}', 0)
      >= 1, "/metrics: the failed-authorize violation counted")
check(up(), "loka is up after every hostile case")

# --- the honest miner was served all along ---------------------------------
honest.p.wait(60)
with open(os.path.join(loka_e2e.TMP, "honest.json")) as f:
    hs = json.load(f)
ps = pool.summary()
mx = loka.metrics()
check(honest.p.returncode == 0 and hs.get("disconnects") == 0,
      "the honest miner ran without a disconnect",
      (honest.p.returncode, hs.get("disconnects")))
check(hs.get("accepted", 0) > 0 and hs.get("rejected") == 0 and
      hs.get("unanswered", 0) == 0,
      "every honest share was accepted",
      {k: hs.get(k) for k in ("sent", "accepted", "rejected",
                              "unanswered")})
check(ps["accepted"] == hs.get("accepted"),
      "the pool accepted exactly the honest shares",
      (ps["accepted"], hs.get("accepted")))
acc = sum(v for k, v in mx.items() if k.startswith("loka_shares_total{")
          and 'result="accepted"' in k)
check(acc == ps["accepted"], "/metrics: accepted shares == the pool's count",
      (acc, ps["accepted"]))
check(loka.stop() == 0, "SIGTERM: loka exits 0")
pools, _ = loka.accounting()
check(pools.get("main", {}).get("accepted") == ps["accepted"],
      "Loka's books == the pool's count", (pools.get("main"),
                                           ps["accepted"]))
pool.proc.stop()

# --- IP filter: deny and allow, IPv4 and IPv6 --------------------------------
have_v6 = True
try:
    s6 = socket.socket(socket.AF_INET6)
    s6.bind(("::1", 0))
    s6.close()
except OSError:
    have_v6 = False
v6_bind = ["--bind", "[::1]:0"] if have_v6 else []


def v6_port(lk):
    m = re.search(r"listening for miners on \[::1\]:0 \(port (\d+)\)",
                  lk.proc.text())
    return int(m.group(1)) if m else None


deny = Loka(config='[security]\nip_filter_mode = "deny"\n'
            'ip_denylist = ["127.0.0.66/32", "::1/128"]\n', args=v6_bind)
check(Conn(deny.port, "127.0.0.66").silent_close(),
      "deny mode: a listed IPv4 address is refused")
check(Conn(deny.port, "127.0.0.67").alive(),
      "deny mode: an unlisted address is served")
if have_v6:
    check(Conn(v6_port(deny), None, host="::1").silent_close(),
          "deny mode: a listed IPv6 address is refused")
check(deny.metrics().get('loka_security_refused_total{reason="ip_filter"}')
      >= 1, "/metrics: filter refusals counted")
check(deny.stop() == 0, "loka (deny mode) exits 0")

allow = Loka(config='[security]\nip_filter_mode = "allow"\n'
             'ip_allowlist = ["127.0.0.70/31", "::1"]\n', args=v6_bind)
check(Conn(allow.port, "127.0.0.70").alive() and
      Conn(allow.port, "127.0.0.71").alive(),
      "allow mode: listed addresses are served")
check(Conn(allow.port, "127.0.0.72").silent_close(),
      "allow mode: any other address is refused")
if have_v6:
    check(Conn(v6_port(allow), None, host="::1").alive(),
          "allow mode: a listed IPv6 address is served")
check(allow.stop() == 0, "loka (allow mode) exits 0")

# --- TLS: garbage on a plain port, plain text on a TLS port -----------------
ref = subprocess.run([loka_e2e.LOKA, "config", "reference"],
                     capture_output=True, text=True).stdout
if "tls_bind" in ref:
    key = os.path.join(loka_e2e.TMP, "key.pem")
    crt = os.path.join(loka_e2e.TMP, "cert.pem")
    gen = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                          "-nodes", "-keyout", key, "-out", crt, "-days",
                          "1", "-subj", "/CN=localhost"],
                         capture_output=True)
    tls = None
    if gen.returncode == 0:
        try:
            tls = Loka(config='[server]\ntls_bind = "127.0.0.1:0"\n'
                       'tls_cert_file = "%s"\ntls_key_file = "%s"\n'
                       % (crt, key))
        except RuntimeError as e:
            check(False, "loka starts with a TLS listener", str(e)[-500:])
    if tls is not None:
        m = tls.proc.wait_log(r"listening for TLS miners on "
                              r"127\.0\.0\.1:0 \(port (\d+)\)", timeout=2)
        tport = int(m.group(1)) if m else None
        check(tport is not None, "the TLS port is logged")
        c = Conn(tls.port, ip())
        c.send(b"\x16\x03\x01\x00\x05hello")
        check(c.error() == -32700 and c.closed(),
              "TLS garbage on a plain port: -32700 and a close")
        if tport:
            c = Conn(tport, ip())
            c.send({"id": 1, "method": "mining.subscribe", "params": []})
            check(c.error() == -32700 and c.closed(),
                  "plain text on the TLS port: -32700 and a close")
            c = Conn(tport, ip())
            c.send(b"\x16\x03\x01\x00\x05garbage" * 3)
            check(c.closed(), "a broken handshake on the TLS port: closed")
        check(tls.proc.alive() and tls.stop() == 0,
              "loka (TLS) stays up and exits 0")
else:
    print("# skip: no TLS keys in the configuration reference yet")

# --- privilege drop (only when the tests run as root) -----------------------
if os.geteuid() == 0:
    import pwd
    nobody = pwd.getpwnam("nobody")
    os.chmod(loka_e2e.TMP, 0o711)  # nobody may pass through, not list
    home = os.path.join(loka_e2e.TMP, "nobody")
    os.mkdir(home)
    os.chown(home, nobody.pw_uid, nobody.pw_gid)
    os.chmod(home, 0o755)
    lk = Loka(config='[server]\nuser = "nobody"\n[database]\n'
              'url = "sqlite://%s/loka.db"\nspool_path = "%s/spool"\n'
              % (home, home))
    status = open("/proc/%d/status" % lk.proc.p.pid).read()
    uids = re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()
    gids = re.search(r"^Gid:\s+(.*)$", status, re.M).group(1).split()
    check(uids == [str(nobody.pw_uid)] * 4 and
          gids == [str(nobody.pw_gid)] * 4,
          "[server] user: root is dropped after binding", (uids, gids))
    check(lk.proc.wait_log(r"dropped root: running as user nobody"),
          "... and it says so")
    check(Conn(lk.port, ip()).alive(), "... and miners are served")
    check(os.stat(os.path.join(home, "loka.db")).st_uid == nobody.pw_uid,
          "... the database is created by that user")
    check(lk.stop() == 0, "loka (as nobody) exits 0")
    bad = subprocess.run([loka_e2e.LOKA, "start", "--bind", "127.0.0.1:0"],
                         env=dict(os.environ, LOKA_SERVER_USER="no-such-"
                                  "loka-user", LOKA_METRICS_ENABLED="false"),
                         capture_output=True, text=True, timeout=20)
    check(bad.returncode == 1 and '[server] user "no-such-loka-user": no '
          'such user' in bad.stderr,
          "an unknown user: Loka does not start, and says why",
          (bad.returncode, bad.stderr[-300:]))
    check(re.search(r"RUNNING AS ROOT", loka.proc.text()) is not None,
          "running as root without [server] user: a loud warning")
else:
    print("# skip: privilege drop needs root")

print("# hostile suite took %.1fs" % (time.time() - start))
done()
