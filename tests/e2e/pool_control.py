#!/usr/bin/env python3
"""End-to-end: POST /api/v1/pools/{name} changes a pool live.

Two test pools, a (priority 0) and b (priority 1), in each mode:
- bad requests get JSON errors (no token 401, unknown pool 404, bad JSON,
  unknown field, wrong types 400, GET on the route 405), and change
  nothing;
- passthrough: disabling a moves its sessions to b (miners that took
  mining.extranonce.subscribe keep their connection); a gets no new
  session; /api/v1/pools, loka_pool_up and loka_pool_switches_total
  {reason="operator"} say so; the books equal each pool's count;
- aggregate: a priority above b's moves every miner to b on the same
  connection; disabling a closes its connection; enabling it with
  priority 0 connects it and moves the miners back; nobody reconnects;
  both moves are counted with their reasons.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import loka_e2e as e  # noqa: E402
from loka_e2e import Loka, Pool, check, done  # noqa: E402

TOKEN = "pool-control-token"
POOL_ARGS = ["--difficulty", "0.00001", "--user-prefix", "acct.",
             "--notify-interval", "1"]


def post(loka, path, body, token=TOKEN):
    """(status, parsed JSON) of a POST (or GET when body is None)."""
    url = "http://127.0.0.1:%d%s" % (loka.metrics_port, path)
    data = body if isinstance(body, bytes) else (
        json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data,
                                 method="GET" if body is None else "POST")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def config(a, b, mode):
    return """[server]
mode = "%s"
[database]
url = "sqlite://%s/%s.db"
batch_interval = "200ms"
[aggregate]
start_difficulty = 0.00001
[metrics]
api_token = "%s"
[[pools]]
name = "a"
url = "stratum+tcp://127.0.0.1:%d"
username = "acct"
priority = 0
[[pools]]
name = "b"
url = "stratum+tcp://127.0.0.1:%d"
username = "acct"
priority = 1
""" % (mode, e.TMP, mode, TOKEN, a.port, b.port)


def pool_view(loka, name):
    st, body = loka.get("/api/v1/pools")
    return next((p for p in body.get("pools", []) if p["name"] == name), {})


def switches(loka):
    return {k: v for k, v in loka.metrics().items()
            if k.startswith("loka_pool_switches_total")}


# ---- passthrough ----
a = Pool(*POOL_ARGS)
b = Pool(*POOL_ARGS)
loka = Loka(config=config(a, b, "passthrough"))

for body, token, want, what in (
        ({"enabled": False}, None, 401, "no token"),
        (b"{nope", TOKEN, 400, "bad JSON"),
        ({"enabled": False, "weight": 3}, TOKEN, 400, "an unknown field"),
        ({"enabled": "no"}, TOKEN, 400, "enabled not a boolean"),
        ({"priority": 1001}, TOKEN, 400, "priority out of range"),
        ({"priority": 1.5}, TOKEN, 400, "priority not an integer"),
        ([1, 2], TOKEN, 400, "not an object"),
        ({}, TOKEN, 400, "nothing to change")):
    st, reply = post(loka, "/api/v1/pools/a", body, token)
    check(st == want and "error" in reply,
          "%s: %d with a JSON error" % (what, want), (st, reply))
st, reply = post(loka, "/api/v1/pools/nosuch", {"enabled": False})
check(st == 404 and "nosuch" in reply.get("error", ""),
      "an unknown pool: 404 naming it", (st, reply))
st, reply = post(loka, "/api/v1/pools/a", None)
check(st == 405, "GET on the route: 405", (st, reply))
check(pool_view(loka, "a").get("enabled") is True and
      pool_view(loka, "a").get("priority") == 0,
      "the refused requests changed nothing", pool_view(loka, "a"))

summary = os.path.join(e.TMP, "pt.json")
rigs = e.Proc("minersim-pt", [
    e.MINERSIM, "--url", "stratum+tcp://127.0.0.1:%d" % loka.port,
    "--miners", "3", "--rate", "4", "--duration", "8",
    "--dialect", "extranonce", "--user", "bc1qPc.rig%d",
    "--summary", summary])
check(e.wait_until(lambda: a.summary()["accepted"] > 0, timeout=5),
      "passthrough: miners mine on a")
st, reply = post(loka, "/api/v1/pools/a", {"enabled": False})
check(st == 200 and reply == {"name": "a", "enabled": False, "priority": 0},
      "passthrough: a disabled (200, the pool as it is now)", (st, reply))
check(e.wait_until(lambda: a.summary()["connections_open"] == 0 and
                   b.summary()["connections_open"] == 3, timeout=5),
      "passthrough: every session moved from a to b",
      (a.summary()["connections_open"], b.summary()["connections_open"]))
at_a = a.summary()["connections_total"]
rigs.p.wait(30)
with open(summary) as f:
    ms = json.load(f)
check(ms["reconnects"] == 0 and ms["disconnects"] == 0,
      "passthrough: the miners kept their connections (set_extranonce)",
      {k: ms.get(k) for k in ("reconnects", "disconnects", "accepted")})
n = e.minersim(loka.port, "--miners", "2", "--rate", "4", "--duration", "1",
               "--user", "bc1qPc.new%d")
check(n.get("accepted", 0) > 0 and a.summary()["connections_total"] == at_a,
      "passthrough: new miners go to b, none to a",
      (n.get("accepted"), a.summary()["connections_total"], at_a))
v = pool_view(loka, "a")
check(v.get("enabled") is False and v.get("up") is False,
      "passthrough: /api/v1/pools shows a disabled", v)
m = loka.metrics()
check(m.get('loka_pool_up{pool="a"}') == 0, "passthrough: loka_pool_up 0")
sw = switches(loka)
check(sw.get('loka_pool_switches_total{from="a",to="b",reason="operator"}')
      == 3 and len(sw) == 1,
      "passthrough: each session's move is counted, reason operator", sw)
check(loka.stop() == 0, "passthrough: Loka stops cleanly")
want = {}
for ps in (a.summary(stop=True), b.summary(stop=True)):
    for k, (cnt, diff) in e.pool_books(ps).items():
        c0, d0 = want.get(k, (0, 0.0))
        want[k] = (c0 + cnt, round(d0 + diff, 12))
got = {k: (c, round(d, 12))
       for k, (c, d) in e.books_sqlite(os.path.join(e.TMP,
                                                    "passthrough.db")).items()}
check(got == want and len(got) == 5,
      "passthrough: the books equal a's and b's counts, per worker",
      (got, want))

# ---- aggregate ----
a = Pool(*POOL_ARGS)
b = Pool(*POOL_ARGS)
loka = Loka(config=config(a, b, "aggregate"))
summary = os.path.join(e.TMP, "agg.json")
rigs = e.Proc("minersim-agg", [
    e.MINERSIM, "--url", "stratum+tcp://127.0.0.1:%d" % loka.port,
    "--miners", "3", "--rate", "4", "--duration", "12",
    "--dialect", "mixed", "--user", "bc1qPa.rig%d", "--summary", summary])
check(e.wait_until(lambda: a.summary()["accepted"] > 0, timeout=5),
      "aggregate: miners mine on a")
st, reply = post(loka, "/api/v1/pools/a", {"priority": 5})
check(st == 200 and reply["priority"] == 5, "aggregate: a given priority 5",
      (st, reply))
base_b = b.summary()["accepted"]
check(e.wait_until(lambda: b.summary()["accepted"] > base_b, timeout=3,
                   step=0.1),
      "aggregate: the miners move to b, now preferred")
check(loka.proc.wait_log(r"miners move from pool a to pool b: changed "
                         r"through the API"), "aggregate: logged once")
conns = (a.summary()["connections_open"], b.summary()["connections_open"])
check(conns[0] == conns[1] > 0,
      "aggregate: a stays connected as a standby", conns)
st, reply = post(loka, "/api/v1/pools/a", {"enabled": False})
check(st == 200 and reply["enabled"] is False, "aggregate: a disabled")
check(e.wait_until(lambda: a.summary()["connections_open"] == 0, timeout=5),
      "aggregate: its connection is closed")
st, reply = post(loka, "/api/v1/pools/a", {"enabled": True, "priority": 0})
check(st == 200 and reply == {"name": "a", "enabled": True, "priority": 0},
      "aggregate: a enabled again, priority 0", (st, reply))
base_a = a.summary()["accepted"]
check(e.wait_until(lambda: a.summary()["accepted"] > base_a, timeout=5,
                   step=0.1),
      "aggregate: a is connected again and the miners move back to it")
rigs.p.wait(30)
with open(summary) as f:
    ms = json.load(f)
check(ms["reconnects"] == 0 and ms["disconnects"] == 0 and
      ms["handshakes"] == 3,
      "aggregate: nobody reconnected", ms)
sw = switches(loka)
# The move back waits for a's connection: by then it is a pool preferred
# to the one in use that is ready, like any other.
check(sw == {
    'loka_pool_switches_total{from="a",to="b",reason="operator"}': 1,
    'loka_pool_switches_total{from="b",to="a",reason="preferred"}': 1},
    "aggregate: the two moves, with their reasons", sw)
check(loka.stop() == 0, "aggregate: Loka stops cleanly")
done()
