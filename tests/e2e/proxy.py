#!/usr/bin/env python3
"""End-to-end: the real loka-stratum between loka-minersim and loka-poolsim.

Asserts what an operator would see: shares accepted at the pool == shares
the miners saw accepted == Loka's own books; the pool sees exactly the
rewritten identities; version rolling, HTTP CONNECT, PROXY protocol,
limits, bad input, an upstream restart and a graceful shutdown.
"""
import json
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from loka_e2e import (Client, Loka, Pool, check, done, minersim,  # noqa
                      wait_until)

DIFF = "0.00001"


def pool_url(pool, user="acct"):
    return "stratum+tcp://%s@127.0.0.1:%d" % (user, pool.port)


def sum_workers(workers, key):
    return sum(w[key] for w in workers.values())


# --- 1. shares through Loka, every dialect, real hashing ------------------
pool = Pool("--difficulty", DIFF, "--user-prefix", "acct.")
loka = Loka(config="[logging]\nstats_interval = \"1s\"\n",
            args=["--pool", pool_url(pool)])
ms = minersim(loka.port, "--miners", "10", "--shares", "8", "--rate", "50",
              "--dialect", "mixed", "--user", "bc1qTestAddr.rig%d")
ps = pool.summary()
check(ms["_rc"] == 0, "minersim finished cleanly", ms["_log"][-2000:])
check(ms.get("accepted") == 80, "miners saw 80 shares accepted",
      ms.get("accepted"))
check(ps["accepted"] == ms.get("accepted"),
      "pool accepted what the miners saw accepted",
      (ps["accepted"], ms.get("accepted")))
check(ps["rejected"] == 0 and ms.get("rejected") == 0, "no rejects",
      (ps["rejected"], ms.get("rejected")))
want_names = sorted("acct.bc1qTestAddr_rig%d" % i for i in range(10))
check(ps["authorize_names"] == want_names,
      "the pool sees exactly the rewritten identities", ps["authorize_names"])
check(set(ps["workers"]) == set(want_names),
      "shares arrive under the rewritten names", list(ps["workers"]))
check(ps.get("version_rolled_accepted", 0) > 0,
      "version-rolled shares are valid at the pool",
      ps.get("version_rolled_accepted"))
check(ms.get("version_rolled", 0) == ps.get("version_rolled_accepted"),
      "every rolled share was forwarded with its version bits",
      (ms.get("version_rolled"), ps.get("version_rolled_accepted")))
mx = loka.metrics()
acc = mx.get('loka_shares_total{pool="cli",result="accepted"}')
check(acc == ps["accepted"], "/metrics: accepted shares == the pool's count",
      (acc, ps["accepted"]))
adiff = mx.get('loka_share_difficulty_total{pool="cli",result="accepted"}')
check(adiff is not None and
      abs(adiff - ps["accepted_difficulty"]) <= 1e-9 * max(1, adiff),
      "/metrics: accepted difficulty == the pool's sum",
      (adiff, ps["accepted_difficulty"]))
check(mx.get('loka_shares_rejected_total{pool="cli",reason="stale"}') == 0,
      "/metrics: no stale rejects")
sub = mx.get('loka_messages_total{direction="from_miner",'
             'method="mining.submit"}')
check(sub == ms.get("sent"),
      "/metrics: submits from miners == what minersim sent",
      (sub, ms.get("sent")))
check(mx.get('loka_messages_total{direction="to_pool",'
             'method="mining.submit"}') == sub,
      "/metrics: every submit forwarded to the pool")
check(mx.get('loka_pool_submit_rtt_seconds_count{pool="cli"}') ==
      ps["accepted"] + ps["rejected"],
      "/metrics: a round trip observed per verdict",
      mx.get('loka_pool_submit_rtt_seconds_count{pool="cli"}'))
notif = mx.get('loka_messages_total{direction="to_miner",'
               'method="mining.notify"}', 0)
check(notif >= 10 and
      notif == mx.get('loka_pool_notifies_total{pool="cli"}'),
      "/metrics: every job the pool sent reached a miner",
      (notif, mx.get('loka_pool_notifies_total{pool="cli"}')))
hr = mx.get("loka_hashrate_hashes_per_second", 0)
up_s = time.time() - mx.get("process_start_time_seconds", time.time())
want = ps["accepted_difficulty"] * 2 ** 32 / max(up_s, 1)
check(hr > 0 and 0.5 * want <= hr <= 2 * want,
      "/metrics: hashrate estimate == accepted difficulty x 2^32 / time",
      (hr, want))
check(mx.get('loka_pool_hashrate_hashes_per_second{pool="cli"}', 0) > 0,
      "/metrics: the pool's hashrate estimate")
check(mx.get("loka_store_batch_seconds_count") ==
      mx.get("loka_store_batches_total") and
      mx.get("loka_store_batches_total", 0) > 0,
      "/metrics: each database batch timed",
      (mx.get("loka_store_batch_seconds_count"),
       mx.get("loka_store_batches_total")))
check(mx.get('loka_pool_up{pool="cli"}') == 1 and
      mx.get("loka_connections_limit") == 1000,
      "/metrics: pool up, connection limit")
check(mx.get("loka_connections_total") == 10 and
      mx.get("loka_connections_active") == 0,
      "/metrics: 10 connections seen, none left",
      (mx.get("loka_connections_total"), mx.get("loka_connections_active")))
check(mx.get("loka_store_database_up") == 1 and
      mx.get('loka_pool_breaker_state{pool="cli"}') == 0,
      "/metrics: the books are written, the pool's breaker is closed")
code, body = loka.get("/ready")
check(code == 200 and body["status"] == "ready", "/ready: 200", body)
code, body = loka.get("/health/pool")
check(code == 200 and body["pools"][0]["breaker"] == "closed",
      "/health/pool: the pool and its breaker", body)
wait_until(lambda: loka.get("/health/database")[1].get("committed", 0)
           >= 80, timeout=10)
code, body = loka.get("/health/database")
check(code == 200 and body["up"] is True and body["committed"] >= 80,
      "/health/database: up, the shares written", body)
check(loka.get("/nope")[0] == 404, "an unknown path: 404")
check(loka.proc.wait_log(r"shares since the last line: [1-9][0-9]* "
                         r"accepted, 0 rejected; books: database up"),
      "the periodic summary line reports shares and the books")
check(loka.stop() == 0, "SIGTERM: loka exits 0")
pools, workers = loka.accounting()
check(pools.get("cli", {}).get("accepted") == ps["accepted"],
      "Loka's books: pool accepted == the pool's count",
      (pools, ps["accepted"]))
check(abs(pools.get("cli", {}).get("accepted_difficulty", 0) -
          ps["accepted_difficulty"]) < 1e-9,
      "Loka's books: accepted difficulty == the pool's",
      (pools.get("cli"), ps["accepted_difficulty"]))
check(len(workers) == 10 and
      all(w[1] == "bc1qTestAddr" for w in workers),
      "Loka's books: one entry per miner worker", list(workers))
check(all(workers.get(("cli", "bc1qTestAddr", "rig%d" % i), {})
          .get("accepted") == ps["workers"]["acct.bc1qTestAddr_rig%d" % i]
          ["accepted"] for i in range(10)),
      "Loka's books: per-worker counts == the pool's")
pool.proc.stop()

# --- 1b. without a usable pool, Loka is alive but not ready ---------------
idle = Loka()
code, body = idle.get("/ready")
check(code == 503 and body["status"] == "no pool configured",
      "/ready without a pool: 503 with the reason", (code, body))
check(idle.get("/health")[0] == 200, "/health: alive all the same")
check(idle.stop() == 0, "loka exits 0")

# --- 2. rejects are relayed and counted by reason --------------------------
pool = Pool("--difficulty", DIFF)
loka = Loka(args=["--pool", pool_url(pool)])
c = Client(loka.port)
c.send({"id": 1, "method": "mining.subscribe", "params": ["raw/1"]})
sub = c.response(1)
c.send({"id": 2, "method": "mining.authorize",
        "params": ["bc1qRaw.w1", "x"]})
check(c.response(2) == {"id": 2, "result": True, "error": None},
      "authorize relayed")
c.send({"id": 3, "method": "mining.submit",
        "params": ["bc1qRaw.w1", "nojob", "00000000", "00000000",
                   "00000000"]})
r = c.response(3)
check(r and r["error"] and r["error"][0] == 21,
      "a stale share gets the pool's error 21", r)
c.send({"id": 4, "method": "mining.submit",
        "params": ["bc1qOther.w1", "nojob", "00000000", "00000000",
                   "00000000"]})
r = c.response(4)
check(r and r["error"] and r["error"][0] == 24,
      "a worker never authorized gets 24 from Loka", r)
c.send({"id": "s", "method": "mining.ping", "params": []})
check(c.response("s") == {"id": "s", "result": "pong", "error": None},
      "string ids come back as they were")
c.send({"id": 9, "method": "mining.nonsense", "params": []})
r = c.response(9)
check(r and r["error"][0] == -32601, "unknown method: -32601", r)
c.send({"id": 10, "method": "mining.multi_version", "params": [1]})
check(c.response(10)["result"] is True, "multi_version answered")
c.send("this is not json\n")
r = c.msg()
check(r and r["error"][0] == -32700, "invalid JSON: -32700", r)
c.send({"id": 11, "method": "mining.ping"})
check(c.response(11) is not None, "the session stays up after bad input")
# Reused ids: two requests with the same id both get answers.
c.send({"id": 7, "method": "mining.suggest_difficulty", "params": [0.5]})
c.send({"id": 7, "method": "mining.ping"})
got = [c.response(7), c.response(7)]
check(all(g is not None for g in got), "a reused id gets both answers", got)
c.close()
check(loka.stop() == 0, "loka exits 0")
pools, _ = loka.accounting()
check(pools.get("cli", {}).get("stale") == 1,
      "Loka's books count the stale reject", pools)
pool.proc.stop()

# --- 3. limits and hostile input ------------------------------------------
pool = Pool("--difficulty", DIFF)
loka = Loka(config="[server]\nmax_connections = 3\nmax_line_length = 1024\n",
            args=["--pool", pool_url(pool)])
conns = [Client(loka.port) for _ in range(3)]
for i, c in enumerate(conns):
    c.send({"id": 1, "method": "mining.ping"})
    check(c.response(1) is not None, "connection %d of 3 is served" % i)
extra = Client(loka.port)
r = extra.msg()
check(r and r["error"] and "Server full" in r["error"][1],
      "over max_connections: a polite refusal", r)
check(extra.closed(), "... and a close")
for c in conns:
    c.close()
time.sleep(0.3)
c = Client(loka.port)
c.send("{" + "x" * 2000 + "\n")
r = c.msg()
check(r and r["error"][0] == -32600 and "too long" in r["error"][1],
      "an oversize line gets an error", r)
check(c.closed(), "... and a close")
c = Client(loka.port)
c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
line = c.line()
check(line and line.startswith(b"HTTP/1.1 400"),
      "plain HTTP gets a 400", line)
c = Client(loka.port)
c.send(b"\x16\x03\x01\x00\x05hello")
r = c.msg()
check(r and r["error"][0] == -32700, "TLS bytes get a parse error", r)
check(c.closed(), "... and a close")
c = Client(loka.port)
c.send("PROXY TCP4 203.0.113.9 127.0.0.1 5555 3333\r\n")
check(c.closed(), "a PROXY header from an untrusted peer is refused")
c = Client(loka.port)
c.send({"id": 1, "method": "mining.submit",
        "params": ["a.b", "1", "00", "00000000", "00000000"]})
r = c.response(1)
check(r and r["error"][0] in (24, 25),
      "submit before subscribe/authorize is refused", r)
check(loka.proc.alive(), "loka is still up")
check(loka.stop() == 0, "loka exits 0")
pool.proc.stop()

# --- 4. HTTP CONNECT tunnels and PROXY protocol from a trusted peer --------
pool = Pool("--difficulty", DIFF)
cfg = ("[server]\ntrusted_proxies = [\"127.0.0.0/8\"]\n"
       "[[pools]]\nname = \"main\"\nurl = \"stratum+tcp://127.0.0.1:%d\"\n"
       "username = \"acct\"\n"
       "[[pools]]\nname = \"off\"\nurl = \"stratum+tcp://127.0.0.1:9\"\n"
       "enabled = false\n" % pool.port)
loka = Loka(config=cfg)
for target, code in (("127.0.0.1:%d" % pool.port, b"200"), ("main:0", b"200"),
                     ("127.0.0.1:%d/main" % pool.port, b"200"),
                     ("nowhere.example:3333", b"404"), ("off:0", b"403"),
                     ("bad target", b"400")):
    c = Client(loka.port)
    c.send("CONNECT %s HTTP/1.1\r\nHost: x\r\n\r\n" % target)
    line = c.line()
    check(line is not None and line.split(b" ")[1] == code,
          "CONNECT %s -> %s" % (target, code.decode()), line)
    if code == b"200":
        while c.line() not in (b"", None):
            pass
        c.send({"id": 1, "method": "mining.subscribe", "params": ["t"]})
        r = c.response(1)
        check(r and r["result"] and len(r["result"]) == 3,
              "Stratum flows through the tunnel", r)
    c.close()
ms = minersim(loka.port, "--miners", "2", "--shares", "3", "--rate", "50",
              "--http-connect", "main:0")
check(ms.get("accepted") == 6, "minersim mines through a CONNECT tunnel",
      ms.get("accepted"))
c = Client(loka.port)
c.send("PROXY TCP4 203.0.113.9 127.0.0.1 5555 3333\r\n")
c.send({"id": 1, "method": "mining.ping"})
check(c.response(1) is not None, "PROXY v1 from a trusted peer is accepted")
c.close()
v2 = (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11, 0, 12]) +
      socket.inet_aton("198.51.100.7") + socket.inet_aton("127.0.0.1") +
      (4444).to_bytes(2, "big") + (3333).to_bytes(2, "big"))
c = Client(loka.port)
c.send(v2 + b'{"id":1,"method":"mining.ping"}\n')
check(c.response(1) is not None, "PROXY v2 from a trusted peer is accepted")
c.close()
check(loka.proc.wait_log(r"is 203\.0\.113\.9:5555 \(PROXY header\)") and
      loka.proc.wait_log(r"is 198\.51\.100\.7:4444 \(PROXY header\)"),
      "the real client address is used")
check(loka.stop() == 0, "loka exits 0")
pool.proc.stop()

# --- 5. the pool restarts in the middle of a run ---------------------------
pool = Pool("--difficulty", DIFF, "--notify-interval", "1")
port = pool.port
loka = Loka(args=["--pool", pool_url(pool)])
miners = __import__("loka_e2e").Proc(
    "minersim-long", [__import__("loka_e2e").MINERSIM, "--url",
                      "stratum+tcp://127.0.0.1:%d" % loka.port,
                      "--miners", "6", "--rate", "5", "--duration", "8",
                      "--dialect", "mixed", "--allow-failures",
                      "--summary", os.path.join(
                          __import__("loka_e2e").TMP, "long.json")])
time.sleep(2.5)
first = pool.summary(stop=True)
time.sleep(0.5)
pool = Pool("--difficulty", DIFF, "--notify-interval", "1", port=port)
miners.p.wait(60)
second = pool.summary()
check(first["accepted"] > 0 and second["accepted"] > 0,
      "shares are accepted before and after the pool restart",
      (first["accepted"], second["accepted"]))
check(loka.proc.wait_log(r"closed the connection.*; reconnecting"),
      "Loka noticed and reconnected")
check(loka.stop() == 0, "loka exits 0")
pools, _ = loka.accounting()
check(pools.get("cli", {}).get("accepted") ==
      first["accepted"] + second["accepted"],
      "Loka's books == the sum of both pool runs",
      (pools.get("cli"), first["accepted"], second["accepted"]))
pool.proc.stop()

# --- 6. graceful shutdown with submits in flight ---------------------------
# A scripted pool that takes 1.5 s to judge a share.
import threading  # noqa: E402

slow = socket.socket()
slow.bind(("127.0.0.1", 0))
slow.listen(4)


def slow_pool():
    conn, _ = slow.accept()
    f = conn.makefile("rwb", buffering=0)
    for raw in f:
        req = json.loads(raw)
        m = req.get("method")
        if m == "mining.subscribe":
            res = [[["mining.notify", "1"]], "0badcafe", 4]
        elif m == "mining.submit":
            time.sleep(1.5)
            res = True
        else:
            res = True
        f.write((json.dumps({"id": req["id"], "result": res,
                             "error": None}) + "\n").encode())
    conn.close()


threading.Thread(target=slow_pool, daemon=True).start()
loka = Loka(args=["--pool", "stratum+tcp://acct@127.0.0.1:%d" %
                  slow.getsockname()[1]])
c = Client(loka.port)
c.send({"id": 1, "method": "mining.subscribe", "params": ["raw/1"]})
c.response(1)
c.send({"id": 2, "method": "mining.authorize", "params": ["bc1qX.w", "x"]})
c.response(2)
c.send({"id": 3, "method": "mining.submit",
        "params": ["bc1qX.w", "j", "00000000", "00000000", "00000000"]})
time.sleep(0.3)
loka.proc.send_signal(signal.SIGTERM)
r = c.response(3, limit=100)
check(r == {"id": 3, "result": True, "error": None},
      "a submit in flight at SIGTERM still gets the pool's verdict", r)
check(loka.proc.p.wait(20) == 0, "... then loka exits 0")
pools, _ = loka.accounting()
check(pools.get("cli", {}).get("accepted") == 1,
      "... and it is in the books", pools)
check(c.closed(), "... and the miner is closed")

# --- 7. a miner that does not read is closed, not buffered ---------------
blast = socket.socket()
blast.bind(("127.0.0.1", 0))
blast.listen(4)


def blasting_pool():
    conn, _ = blast.accept()
    f = conn.makefile("rwb", buffering=0)
    for raw in f:
        req = json.loads(raw)
        res = ([[["mining.notify", "1"]], "0badcafe", 4]
               if req.get("method") == "mining.subscribe" else True)
        f.write((json.dumps({"id": req["id"], "result": res,
                             "error": None}) + "\n").encode())
        if req.get("method") == "mining.authorize":
            note = json.dumps({"id": None, "method": "mining.notify",
                               "params": ["j", "00" * 32, "ab" * 200,
                                          "cd" * 200, [], "20000000",
                                          "1d00ffff", "5f000000",
                                          False]}) + "\n"
            try:
                for _ in range(20000):
                    conn.sendall(note.encode())
            except OSError:
                pass
            return


threading.Thread(target=blasting_pool, daemon=True).start()
loka = Loka(config="[server]\nmax_output_buffer = 65536\n",
            args=["--pool", "stratum+tcp://acct@127.0.0.1:%d" %
                  blast.getsockname()[1]])
c = Client(loka.port)
c.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
c.send({"id": 1, "method": "mining.subscribe", "params": ["slow/1"]})
c.send({"id": 2, "method": "mining.authorize", "params": ["bc1qS.w", "x"]})
check(loka.proc.wait_log(r"does not keep up; closing", timeout=20),
      "a miner that does not read is closed at max_output_buffer")
other = Client(loka.port)
other.send({"id": 1, "method": "mining.ping"})
check(other.response(1) is not None, "... and Loka serves others meanwhile")
check(loka.stop() == 0, "loka exits 0")

done()
