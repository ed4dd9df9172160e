#!/usr/bin/env python3
"""End-to-end: TLS both ways, through the real loka-stratum.

Miners over TLS on a tls_bind port (raw clients, and loka-minersim behind a
TLS-originating relay) mine real shares at loka-poolsim; TLS on a plain port
with tls_detect on and off; plain text on a TLS port; SIGHUP with a new
certificate; HTTPS metrics; pools over TLS behind a TLS-terminating relay,
with the right CA, a pinned fingerprint, a wrong fingerprint, an untrusted
CA and tls_verify = false; configuration and start errors.

Certificates are made here with the openssl command; everything listens on
127.0.0.1 and every wait is bounded.
"""
import asyncio
import hashlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from loka_e2e import (LOKA, TMP, Client, Loka, Pool, Proc, check,  # noqa
                      done, minersim, wait_until)

DIFF = "0.00001"
CERTS = os.path.join(TMP, "certs")


# --- certificates -----------------------------------------------------------

def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_ca(name):
    key = os.path.join(CERTS, name + ".key")
    pem = os.path.join(CERTS, name + ".pem")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", pem,
            "-days", "2", "-subj", "/CN=Loka test CA " + name, "-addext",
            "basicConstraints=critical,CA:TRUE", "-addext",
            "keyUsage=critical,keyCertSign,cRLSign")
    return pem, key


def make_cert(ca, name, san="IP:127.0.0.1,DNS:localhost", rsa=False):
    key = os.path.join(CERTS, name + ".key")
    csr = os.path.join(CERTS, name + ".csr")
    pem = os.path.join(CERTS, name + ".pem")
    ext = os.path.join(CERTS, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n" % san)
    kind = (["rsa:2048"] if rsa else
            ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"])
    openssl("req", "-newkey", *kind, "-nodes", "-keyout", key, "-out", csr,
            "-subj", "/CN=" + name)
    openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
            "-CAcreateserial", "-out", pem, "-days", "2", "-extfile", ext)
    return pem, key


def fingerprint(pem):
    with open(pem) as f:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()


def colons(hexfp):
    return ":".join(hexfp[i:i + 2] for i in range(0, len(hexfp), 2)).upper()


def client_ctx(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.options |= getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
    return ctx


def server_ctx(cert):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert[0], cert[1])
    return ctx


# --- helpers ----------------------------------------------------------------

class TLSClient(Client):
    """A raw Stratum connection over TLS."""

    def __init__(self, port, ctx, hostname="127.0.0.1", timeout=5.0,
                 prefix=b""):
        raw = socket.create_connection(("127.0.0.1", port), timeout)
        if prefix:
            raw.sendall(prefix)
        self.s = ctx.wrap_socket(raw, server_hostname=hostname)
        self.s.settimeout(timeout)
        self.buf = b""

    def fingerprint(self):
        return hashlib.sha256(self.s.getpeercert(binary_form=True)).hexdigest()


class Relay:
    """Forwards connections made to 127.0.0.1:port to 127.0.0.1:target;
    either side may be TLS (asyncio, on a thread of its own)."""

    def __init__(self, target, accept_tls=None, connect_tls=None,
                 hostname="127.0.0.1"):
        self.target = target
        self.accept_tls = accept_tls
        self.connect_tls = connect_tls
        self.hostname = hostname
        self.served = 0
        self.loop = asyncio.new_event_loop()
        self.loop.set_exception_handler(lambda loop, ctx: None)
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            server = self.loop.run_until_complete(asyncio.start_server(
                self.handle, "127.0.0.1", 0, ssl=accept_tls))
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        if not ready.wait(10):
            raise RuntimeError("relay did not start")

    async def handle(self, r, w):
        try:
            ur, uw = await asyncio.wait_for(asyncio.open_connection(
                "127.0.0.1", self.target, ssl=self.connect_tls,
                server_hostname=self.hostname if self.connect_tls else None),
                10)
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            w.close()
            return
        self.served += 1

        async def pump(src, dst):
            try:
                while True:
                    d = await src.read(65536)
                    if not d:
                        break
                    dst.write(d)
                    await dst.drain()
            except (OSError, ssl.SSLError, ConnectionError):
                pass
            finally:
                try:
                    dst.close()
                except (OSError, RuntimeError):
                    pass

        await asyncio.gather(pump(r, uw), pump(ur, w))


def loka_port(loka, what):
    m = loka.proc.wait_log(r"listening for %s on \S+ \(port (\d+)\)" % what)
    return int(m.group(1)) if m else None


def handshake(c, name="bc1qTls.w1"):
    """subscribe + authorize; True when both were answered well."""
    c.send({"id": 1, "method": "mining.subscribe", "params": ["tls/1"]})
    sub = c.response(1)
    c.send({"id": 2, "method": "mining.authorize", "params": [name, "x"]})
    auth = c.response(2)
    return (sub is not None and sub.get("result") is not None and
            len(sub["result"]) == 3 and auth is not None and
            auth.get("result") is True)


def ping(c, id=99):
    c.send({"id": id, "method": "mining.ping", "params": []})
    return c.response(id) == {"id": id, "result": "pong", "error": None}


def tls_refused(port, ctx, hostname="127.0.0.1"):
    """True when a TLS handshake to port fails or the connection closes."""
    try:
        c = TLSClient(port, ctx, hostname=hostname, timeout=5)
    except (ssl.SSLError, OSError):
        return True
    try:
        c.send({"id": 1, "method": "mining.ping"})
        return c.line() is None
    except (ssl.SSLError, OSError):
        return True
    finally:
        c.close()


os.makedirs(CERTS)
ca = make_ca("ca")
other_ca = make_ca("other")
cert_a = make_cert(ca, "miners-a", rsa=True)  # RSA: static-RSA suites exist
cert_b = make_cert(ca, "miners-b")
cert_pool = make_cert(ca, "pool")
cctx = client_ctx(ca[0])

pool = Pool("--difficulty", DIFF, "--user-prefix", "acct.")
POOL_TCP = ("[[pools]]\nname = \"main\"\nurl = \"stratum+tcp://127.0.0.1:%d\"\n"
            "username = \"acct\"\n" % pool.port)
accepted = 0  # shares the pool has accepted so far

# --- 1. miners on a tls_bind port --------------------------------------------
loka = Loka(config="[server]\ntls_bind = \"127.0.0.1:0\"\n"
            "tls_cert_file = \"%s\"\ntls_key_file = \"%s\"\n" % cert_a +
            POOL_TCP)
tls_port = loka_port(loka, "TLS miners")
check(tls_port is not None, "a TLS listener is logged with its port")
c = TLSClient(tls_port, cctx)
check(c.s.version() in ("TLSv1.2", "TLSv1.3"),
      "the handshake verifies against the CA (TLS 1.2 or 1.3)", c.s.version())
check(c.fingerprint() == fingerprint(cert_a[0]),
      "miners see the configured certificate")
check(handshake(c), "subscribe and authorize over TLS reach the pool")
c.close()
relay = Relay(tls_port, connect_tls=cctx)
ms = minersim(relay.port, "--miners", "3", "--shares", "4", "--rate", "50",
              "--dialect", "mixed", "--user", "bc1qTls.rig%d")
check(ms["_rc"] == 0 and ms.get("accepted") == 12,
      "loka-minersim over TLS: 12 shares accepted",
      (ms.get("accepted"), ms["_log"][-1500:]))
ps = pool.summary()
accepted += 12
check(ps["accepted"] == accepted and ps["rejected"] == 0,
      "the pool accepted every share that came over TLS",
      (ps["accepted"], ps["rejected"]))
check(relay.served >= 3 and
      loka.proc.wait_log(r"TLS handshake on a TLS port"),
      "the shares came through Loka's TLS port", relay.served)
# Old versions and weak TLS 1.2 suites are refused (a client that offers
# only those, and would take them from a default OpenSSL server).


def tls12(ciphers, oldest=ssl.TLSVersion.TLSv1_2,
          newest=ssl.TLSVersion.TLSv1_2):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca[0])
    ctx.set_ciphers(ciphers)
    ctx.minimum_version = oldest
    ctx.maximum_version = newest
    return ctx


check(tls_refused(tls_port, tls12("AES128-GCM-SHA256")),
      "TLS 1.2 without ECDHE (static RSA) is refused")
check(tls_refused(tls_port, tls12("ECDHE-RSA-AES128-SHA")),
      "TLS 1.2 with a CBC suite is refused")
check(tls_refused(tls_port, tls12("DEFAULT:@SECLEVEL=0",
                                  ssl.TLSVersion.TLSv1,
                                  ssl.TLSVersion.TLSv1_1)),
      "TLS 1.0 and 1.1 are refused")
c = TLSClient(tls_port, tls12("ECDHE+AESGCM"))
check(c.s.version() == "TLSv1.2" and ping(c),
      "TLS 1.2 with ECDHE and AES-GCM is served", c.s.cipher())
c.close()
# Plain text on the TLS port: refused, Loka carries on.
c = Client(tls_port)
c.send({"id": 1, "method": "mining.ping"})
r = c.msg()
check(r is not None and r["error"] and "speaks TLS" in r["error"][1],
      "plain text on a TLS port gets an explanation", r)
check(c.closed(), "... and a close")
check(loka.proc.wait_log(r"plain text on a TLS port; closing"),
      "... and a log line")
# TLS on the plain port while tls_detect is off: closed.
check(tls_refused(loka.port, cctx),
      "TLS on a plain port with tls_detect off is closed")
check(loka.proc.wait_log(r"TLS on a plain port and tls_detect is off"),
      "... with a log line saying so")
c = Client(loka.port)
check(ping(c), "plain Stratum still works on the plain port")
c.close()
check(loka.proc.alive(), "loka is still up")
check(loka.stop() == 0, "loka exits 0")

# --- 2. tls_detect: TLS on the plain port ------------------------------------
loka = Loka(config="[server]\ntls_detect = true\n"
            "trusted_proxies = [\"127.0.0.0/8\"]\n"
            "tls_cert_file = \"%s\"\ntls_key_file = \"%s\"\n" % cert_a +
            POOL_TCP)
c = TLSClient(loka.port, cctx)
check(c.fingerprint() == fingerprint(cert_a[0]) and handshake(c),
      "tls_detect: a TLS miner on the plain port is served over TLS")
c.close()
c = Client(loka.port)
check(ping(c), "tls_detect: plain Stratum on the same port still works")
c.close()
relay = Relay(loka.port, connect_tls=cctx)
ms = minersim(relay.port, "--miners", "2", "--shares", "3", "--rate", "50")
accepted += 6
check(ms["_rc"] == 0 and ms.get("accepted") == 6 and
      pool.summary()["accepted"] == accepted,
      "tls_detect: loka-minersim over TLS on the plain port mines",
      ms.get("accepted"))
c = TLSClient(loka.port, cctx,
              prefix=b"PROXY TCP4 203.0.113.9 127.0.0.1 5555 3333\r\n")
check(ping(c) and loka.proc.wait_log(r"is 203\.0\.113\.9:5555 \(PROXY "
                                     r"header\)"),
      "a PROXY header from a trusted peer may come before the ClientHello")
c.close()
check(loka.stop() == 0, "loka exits 0")

# --- 3. SIGHUP with a new certificate; HTTPS metrics -------------------------
live = (os.path.join(CERTS, "live.pem"), os.path.join(CERTS, "live.key"))
shutil.copy(cert_a[0], live[0])
shutil.copy(cert_a[1], live[1])
loka = Loka(config="[server]\ntls_bind = \"127.0.0.1:0\"\n"
            "tls_cert_file = \"%s\"\ntls_key_file = \"%s\"\n" % live +
            "[metrics]\ntls_cert_file = \"%s\"\ntls_key_file = \"%s\"\n" %
            cert_a + POOL_TCP)
tls_port = loka_port(loka, "TLS miners")
old = TLSClient(tls_port, cctx)
check(old.fingerprint() == fingerprint(cert_a[0]) and handshake(old),
      "a TLS session before the reload")
shutil.copy(cert_b[0], live[0])
shutil.copy(cert_b[1], live[1])
loka.proc.send_signal(signal.SIGHUP)
check(loka.proc.wait_log(r"miners: reloaded certificate .*SHA-256 %s" %
                         colons(fingerprint(cert_b[0]))),
      "SIGHUP: the new certificate is loaded and logged")
check(ping(old, 3), "the session from before the reload keeps working")
c = TLSClient(tls_port, cctx)
check(c.fingerprint() == fingerprint(cert_b[0]) and handshake(c),
      "a new connection gets the new certificate")
c.close()
with open(live[0], "w") as f:
    f.write("not a certificate\n")
loka.proc.send_signal(signal.SIGHUP)
check(loka.proc.wait_log(r"miners: reload failed, the previous certificate "
                         r"stays in use: certificate file"),
      "a failed reload is logged with its reason")
c = TLSClient(tls_port, cctx)
check(c.fingerprint() == fingerprint(cert_b[0]) and ping(c),
      "... and the previous certificate stays in use")
c.close()
check(ping(old, 4), "... and the old session still works")
old.close()
m = loka.proc.wait_log(r"metrics on https://[^:]+:(\d+)/metrics")
check(m is not None, "the metrics listener says https")
url = "https://127.0.0.1:%s" % (m.group(1) if m else "0")
try:
    with urllib.request.urlopen(url + "/metrics", context=cctx,
                                timeout=5) as r:
        body = r.read().decode()
        status = r.status
except (OSError, urllib.error.URLError) as e:
    status, body = None, str(e)
check(status == 200 and "loka_connections_active" in body,
      "HTTPS /metrics answers, verified against the CA", (status, body[:200]))
check("\nloka_tls_sessions_total 3\n" in body,
      "/metrics: the three TLS sessions of this instance counted",
      [l for l in body.splitlines() if l.startswith("loka_tls")])
try:
    urllib.request.urlopen(url.replace("https", "http") + "/health",
                           timeout=5)
    plain_ok = True
except (OSError, urllib.error.URLError, ValueError):
    plain_ok = False
check(not plain_ok and loka.proc.alive(),
      "plain HTTP on the HTTPS port gets nothing; loka stays up")
check(loka.stop() == 0, "loka exits 0")

# --- 4. pools over TLS -------------------------------------------------------
front = Relay(pool.port, accept_tls=server_ctx(cert_pool))


def tls_pool(extra=""):
    # Miners are held 1 s while no pool is usable: a refused pool answers
    # them (error 20) soon.
    return ("[server]\npool_outage_hold = \"1s\"\n"
            "[[pools]]\nname = \"up\"\nurl = \"stratum+ssl://127.0.0.1:%d\"\n"
            "username = \"acct\"\nbreaker_failures = 2\n%s" %
            (front.port, extra))


loka = Loka(config=tls_pool("tls_ca_file = \"%s\"\n" % ca[0]))
check(loka.proc.wait_log(r"pool up: TLS, certificate checked against %s" %
                         ca[0]), "the pool's TLS settings are logged")
ms = minersim(loka.port, "--miners", "2", "--shares", "3", "--rate", "50")
accepted += 6
check(ms["_rc"] == 0 and ms.get("accepted") == 6 and
      pool.summary()["accepted"] == accepted and front.served >= 2,
      "stratum+ssl:// with tls_ca_file: shares reach the pool over TLS",
      (ms.get("accepted"), front.served))
check(loka.stop() == 0, "loka exits 0")

loka = Loka(config=tls_pool("tls_ca_file = \"%s\"\ntls_fingerprint = "
                            "\"%s\"\n" % (ca[0],
                                          colons(fingerprint(cert_pool[0])))))
c = Client(loka.port)
check(handshake(c), "the right tls_fingerprint: the pool is used")
c.close()
check(loka.stop() == 0, "loka exits 0")


def pool_refused(loka, why):
    """Miners cannot get through; the reason is logged; the breaker opens."""
    for i in range(3):
        c = Client(loka.port)
        c.send({"id": 1, "method": "mining.subscribe", "params": ["t"]})
        r = c.response(1)
        c.close()
        if r is not None and r.get("result"):
            return False
        time.sleep(0.3)
    code, body = loka.get("/health/pool")
    return (loka.proc.wait_log(r"cannot connect to pool up: " + why) and
            loka.proc.wait_log(r"pool up: circuit breaker open") and
            body["pools"][0]["breaker"] == "open")


wrong = colons(fingerprint(cert_a[0]))
loka = Loka(config=tls_pool("tls_ca_file = \"%s\"\ntls_fingerprint = "
                            "\"%s\"\n" % (ca[0], wrong.lower())))
check(pool_refused(loka, r"certificate fingerprint %s does not match "
                   r"tls_fingerprint" % colons(fingerprint(cert_pool[0]))),
      "a wrong tls_fingerprint: refused, logged with the pool's "
      "fingerprint, the breaker opens")
check(loka.stop() == 0, "loka exits 0")

loka = Loka(config=tls_pool())
check(pool_refused(loka, r"certificate verification failed: unable to get "
                   r"local issuer certificate"),
      "a CA the system does not trust: refused, logged, the breaker opens")
check(loka.stop() == 0, "loka exits 0")

loka = Loka(config=tls_pool("tls_ca_file = \"%s\"\n" % other_ca[0]))
check(pool_refused(loka, r"certificate verification failed"),
      "a tls_ca_file of another CA: refused")
check(loka.stop() == 0, "loka exits 0")

loka = Loka(config=tls_pool("tls_verify = false\n"))
check(loka.proc.wait_log(r"pool up: TLS WITHOUT VERIFICATION"),
      "tls_verify = false is warned about loudly")
c = Client(loka.port)
check(handshake(c), "tls_verify = false: the pool is used all the same")
c.close()
check(loka.stop() == 0, "loka exits 0")

# A plain pool behind a stratum+ssl:// URL: a clear reason, no hang.
loka = Loka(config="[[pools]]\nname = \"up\"\nurl = \"stratum+ssl://127.0.0.1:"
            "%d\"\nconnect_timeout = 2\n" % pool.port)
c = Client(loka.port)
c.send({"id": 1, "method": "mining.subscribe", "params": ["t"]})
c.response(1)
c.close()
check(loka.proc.wait_log(r"cannot connect to pool up: (TLS handshake "
                         r"failed|closed during the TLS handshake)",
                         timeout=15),
      "a plain pool behind stratum+ssl:// fails with a TLS reason")
check(loka.stop() == 0, "loka exits 0")

# --- 5. configuration and start errors --------------------------------------
bad = os.path.join(TMP, "bad-tls.toml")
with open(bad, "w") as f:
    f.write("[server]\ntls_bind = \"127.0.0.1:0\"\n")
p = subprocess.run([LOKA, "config", "check", bad], capture_output=True,
                   text=True, timeout=30)
check(p.returncode == 2 and "bad-tls.toml:2: [server] tls_cert_file: is "
      "required when tls_bind is set" in p.stderr + p.stdout,
      "config check: tls_bind without a certificate names file, line and "
      "key", p.stderr + p.stdout)
with open(bad, "w") as f:
    f.write("[[pools]]\nname = \"up\"\nurl = \"stratum+ssl://h:1\"\n"
            "tls_fingerprint = \"abc\"\n")
p = subprocess.run([LOKA, "config", "check", bad], capture_output=True,
                   text=True, timeout=30)
check(p.returncode == 2 and "bad-tls.toml:4: [[pools]] #1 tls_fingerprint"
      in p.stderr + p.stdout, "config check: a malformed tls_fingerprint",
      p.stderr + p.stdout)
missing = os.path.join(CERTS, "missing.pem")
cfg = os.path.join(TMP, "missing-tls.toml")
with open(cfg, "w") as f:
    f.write("[server]\ntls_bind = \"127.0.0.1:0\"\ntls_cert_file = \"%s\"\n"
            "tls_key_file = \"%s\"\n" % (missing, cert_a[1]))
start = Proc("loka-bad", [LOKA, "start", "-c", cfg, "--bind", "127.0.0.1:0"],
             {"LOKA_METRICS_BIND": "127.0.0.1:0"})
try:
    rc = start.p.wait(30)
except subprocess.TimeoutExpired:
    start.kill()
    rc = None
check(rc == 1 and "cannot read certificate file %s" % missing in
      start.text(), "an unreadable certificate stops the start, clearly",
      (rc, start.text()[-600:]))

pool.proc.stop()
done()
