#!/usr/bin/env python3
"""End-to-end: pools that misbehave move the work elsewhere.

Three broken primaries, each with a healthy backup (run side by side): a
black hole (accepts TCP, never answers), a pool that answers subscribe but
never authorize, and one that sends a 10 MB line. Shares must reach the
backup within a few seconds, the broken pool must not be hammered, and the
books must match the backup's count per worker. Then the only pool goes
away for 10 s: the sessions are held, hashing resumes within 2 s of its
return. Last, submits queued while no pool is there are answered (error
20) and booked as rejected "other" when the session gives up.
"""
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import loka_e2e  # noqa: E402
from loka_e2e import Client, Loka, Pool, Proc, check, done, wait_until  # noqa

DIFF = "0.00001"
HANDSHAKE = 2.0  # the handshake_timeout the tests configure, seconds


def background_miners(loka, name, *args):
    """loka-minersim in the background; (Proc, summary path)."""
    summary = os.path.join(loka_e2e.TMP, "%s.json" % name)
    p = Proc(name, [loka_e2e.MINERSIM, "--url",
                    "stratum+tcp://127.0.0.1:%d" % loka.port,
                    "--summary", summary] + list(args))
    return p, summary


def read_json(path):
    import json
    with open(path) as f:
        return json.load(f)


def first_share(pool, start, timeout):
    """Seconds from start until pool accepted a share (None: never)."""
    end = time.time() + timeout
    while time.time() < end:
        if pool.summary()["accepted"] > 0:
            return time.time() - start
        time.sleep(0.1)
    return None


def workers_api(loka):
    code, body = loka.get("/api/v1/workers?per_page=1000")
    return {(w["pool"], w["miner"] + "." + w["worker"]): w
            for w in (body or {}).get("workers", [])}


def books_match(loka, pool_name, ps, logins):
    """Loka's accepted per worker == the pool's, for every login."""
    api = workers_api(loka)
    got = {l: api.get((pool_name, l), {}).get("accepted") for l in logins}
    want = {l: ps["workers"].get("acct." + l.replace(".", "_"), {})
            .get("accepted", 0) for l in logins}
    return got == want and sum(want.values()) > 0, (got, want)


def two_pools(bad, good, server=""):
    return (server + "[[pools]]\nname = \"bad\"\n"
            "url = \"stratum+tcp://127.0.0.1:%d\"\nusername = \"acct\"\n"
            "priority = 0\nhandshake_timeout = \"%ds\"\n"
            "[[pools]]\nname = \"good\"\n"
            "url = \"stratum+tcp://127.0.0.1:%d\"\nusername = \"acct\"\n"
            "priority = 1\nhandshake_timeout = \"%ds\"\n"
            % (bad.port, HANDSHAKE, good.port, HANDSHAKE))


# --- 1-3. a broken primary, a healthy backup --------------------------------
LOGINS = ["bc1qFail.rig0", "bc1qFail.rig1"]
cases = []
for fault in ("--silent", "--no-authorize", "--oversize-line"):
    bad = Pool("--difficulty", DIFF, "--user-prefix", "acct.", fault)
    good = Pool("--difficulty", DIFF, "--user-prefix", "acct.",
                "--notify-interval", "2")
    # With the black hole, the miners' own connection_timeout (1 s) runs
    # out before the pool's handshake_timeout (2 s): it must not count.
    loka = Loka(config=two_pools(bad, good, "[server]\nconnection_timeout"
                                 " = \"1s\"\n" if fault == "--silent"
                                 else ""))
    cases.append({"fault": fault, "bad": bad, "good": good, "loka": loka})
for c in cases:
    c["start"] = time.time()
    c["miners"], c["summary"] = background_miners(
        c["loka"], "miners" + c["fault"], "--miners", "2", "--rate", "4",
        "--duration", "12", "--user", "bc1qFail.rig%d", "--allow-failures")
# Poll the three backups together: each time is measured on its own.
end = time.time() + 15
while time.time() < end and any("to_backup" not in c for c in cases):
    for c in cases:
        if "to_backup" not in c and c["good"].summary()["accepted"] > 0:
            c["to_backup"] = time.time() - c["start"]
    time.sleep(0.05)
for c in cases:
    c["miners"].p.wait(40)
    ms = read_json(c["summary"])
    bad_s, good_s = c["bad"].summary(), c["good"].summary()
    name = c["fault"][2:]
    t = c.get("to_backup")
    check(t is not None and t < HANDSHAKE + 4,
          "%s: shares reach the backup within a few seconds (%.1f s)" %
          (name, t or -1), t)
    check(bad_s["connections_total"] <= 6,
          "%s: the broken pool got %d connections from 2 miners" %
          (name, bad_s["connections_total"]), bad_s["connections_total"])
    check(bad_s["accepted"] == 0 and good_s["accepted"] > 0,
          "%s: every share went to the backup" % name,
          (bad_s["accepted"], good_s["accepted"]))
    check(ms["unanswered"] == 0 and ms["handshakes"] == 2,
          "%s: both miners mined, every submit answered" % name,
          {k: ms.get(k) for k in ("handshakes", "unanswered",
                                   "disconnects", "accepted")})
    if name == "silent":
        check(ms["disconnects"] == 0,
              "silent: the miners never saw the failover, though their "
              "connection_timeout (1 s) ran out while the pool was silent",
              ms["disconnects"])
    mx = c["loka"].metrics()
    fails = mx.get('loka_upstream_events_total{pool="bad",'
                   'event="failure"}', 0)
    check(1 <= fails <= 6, "%s: /metrics counts the pool's failures (%d)" %
          (name, fails), fails)
    ev = {"silent": "handshake_timeout", "no-authorize": "handshake_timeout",
          "oversize-line": "protocol_error"}[name]
    check(mx.get('loka_upstream_events_total{pool="bad",event="%s"}' % ev,
                 0) >= 1, "%s: ... as %s" % (name, ev))
    sw = {k: v for k, v in mx.items()
          if k.startswith("loka_pool_switches_total")}
    moved = sw.get('loka_pool_switches_total{from="bad",to="good",'
                   'reason="failed"}', 0)
    check(moved >= 2 and len(sw) == 1,
          "%s: each session's move to the backup is counted (%d)" %
          (name, moved), sw)
    ok, why = books_match(c["loka"], "good", good_s, LOGINS)
    check(ok, "%s: Loka's books per worker == the backup's" % name, why)
    text = c["loka"].proc.text()
    check("no subscribe and authorize within connection_timeout"
          not in text, "%s: no miner blamed for the pool" % name)
    warns = len(re.findall(r"warn .*pool bad", text))
    check(warns <= 4, "%s: %d warnings about the pool (rate limited)" %
          (name, warns), warns)
    check(c["loka"].stop() == 0, "%s: loka exits 0" % name)
    c["bad"].proc.stop()
    c["good"].proc.stop()

# --- 4. a 10 s outage of the only pool --------------------------------------
pool = Pool("--difficulty", DIFF, "--user-prefix", "acct.",
            "--notify-interval", "1")
port = pool.port
loka = Loka(config="[[pools]]\nname = \"only\"\n"
            "url = \"stratum+tcp://127.0.0.1:%d\"\nusername = \"acct\"\n"
            % port)
miners, summary = background_miners(
    loka, "miners-outage", "--miners", "2", "--rate", "2", "--duration",
    "17", "--dialect", "extranonce", "--user", "bc1qFail.rig%d",
    "--allow-failures")
check(first_share(pool, time.time(), 10) is not None,
      "outage: shares flow before the outage")
time.sleep(1)
first = pool.summary(stop=True)
time.sleep(10)
back = time.time()
pool = Pool("--difficulty", DIFF, "--user-prefix", "acct.",
            "--notify-interval", "1", port=port)
gap = first_share(pool, back, 10)
check(gap is not None and gap < 2.0,
      "outage: hashing resumes within 2 s of the pool's return (%.2f s)" %
      (gap or -1), gap)
miners.p.wait(40)
ms = read_json(summary)
second = pool.summary()
check(ms["disconnects"] == 0 and ms["reconnects"] == 0,
      "outage: no miner was closed", {k: ms.get(k) for k in (
          "disconnects", "reconnects", "unanswered")})
mx = loka.metrics()
check(mx.get("loka_connections_total") == 2,
      "outage: /metrics: still the 2 first connections",
      mx.get("loka_connections_total"))
api = workers_api(loka)
got = {l: api.get(("only", l), {}).get("accepted") for l in LOGINS}
want = {l: sum(s["workers"].get("acct." + l.replace(".", "_"), {})
               .get("accepted", 0) for s in (first, second))
        for l in LOGINS}
check(got == want, "outage: Loka's books per worker == both pool runs",
      (got, want))
check(loka.stop() == 0, "outage: loka exits 0")
pool.proc.stop()

# --- 5. submits queued when the session gives up ----------------------------
pool = Pool("--trust", "--user-prefix", "acct.")
loka = Loka(config="[server]\npool_outage_hold = \"2s\"\n"
            "[[pools]]\nname = \"only\"\n"
            "url = \"stratum+tcp://127.0.0.1:%d\"\nusername = \"acct\"\n"
            % pool.port)
c = Client(loka.port)
c.send({"id": 1, "method": "mining.subscribe", "params": ["raw/1"]})
job = None
sub = c.response(1)
c.send({"id": 2, "method": "mining.authorize", "params": ["bc1qQ.w", "x"]})
job, ntime, authorized = None, None, None
for _ in range(20):
    m = c.msg()
    if m is None:
        break
    if m.get("id") == 2 and "method" not in m:
        authorized = m
    elif m.get("method") == "mining.notify":
        job, ntime = m["params"][0], m["params"][7]
    if authorized is not None and job is not None:
        break
check(authorized and authorized["result"] is True and job is not None,
      "queued: subscribed, authorized, a job", (authorized, job))
en2 = "00" * sub["result"][2]


def submit(id, nonce):
    c.send({"id": id, "method": "mining.submit",
            "params": ["bc1qQ.w", job, en2, ntime, nonce]})


submit(3, "00000001")
r = c.response(3)
check(r == {"id": 3, "result": True, "error": None},
      "queued: a share accepted before the outage", r)
ps = pool.summary(stop=True)
check(loka.proc.wait_log(r"pool only:? closed the connection"),
      "queued: Loka saw the pool go")
submit(4, "00000002")
submit(5, "00000003")
t0 = time.time()
r4, r5 = c.response(4), c.response(5)
check(r4 and r4["error"] and r4["error"][0] == 20 and
      r5 and r5["error"] and r5["error"][0] == 20,
      "queued: both queued submits answered with error 20", (r4, r5))
check(1.0 < time.time() - t0 < 5, "queued: ... when the hold ran out",
      time.time() - t0)
check(c.closed(), "queued: ... then the session is closed")
api = workers_api(loka)
w = api.get(("only", "bc1qQ.w"), {})
check(w.get("accepted") == ps["workers"]["acct.bc1qQ_w"]["accepted"] == 1 and
      w.get("rejected_by_reason", {}).get("other") == 2,
      "queued: books: 1 accepted (== the pool's), 2 rejected \"other\"", w)
mx = loka.metrics()
check(mx.get('loka_shares_rejected_total{pool="only",reason="other"}') == 2,
      "queued: /metrics: 2 rejected \"other\"")
check(loka.stop() == 0, "queued: loka exits 0")

done()
