#!/usr/bin/env python3
"""End-to-end: the web dashboard at / of a running loka-stratum.

The page is served from the binary with its security headers (HEAD too,
other methods 405, 404 with [metrics] dashboard = false); it is the file
src/api/dashboard.html, self-contained, and every API route it names
answers 200. When chromium is installed, a headless browser loads it while
simulated miners submit shares: the rendered page must show the pool, the
shares and the workers, and hostile names from miners (HTML in a worker
name and in the agent) must appear as text, never as markup. Without
chromium that part is skipped.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(__file__))
from loka_e2e import (MINERSIM, TMP, Client, Loka, Pool, Proc, check,  # noqa
                      done, wait_until)

SOURCE = os.environ.get("LOKA_SOURCE_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..")
with open(os.path.join(SOURCE, "src", "api", "dashboard.html"), "rb") as f:
    PAGE = f.read()

CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
       "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'")
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
# Names a miner chooses: markup that would run if the page parsed it.
XSS_REFUSED = "<img src=x onerror=alert(1)>"    # spaces: not authorized
XSS_WORKER = "<img/src=x/onerror=alert(1)>.rig"  # authorized
XSS_AGENT = "<script>alert(2)</script>"


def http(loka, method, path):
    """(status, headers, raw body) of one request to the metrics port."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (
        loka.metrics_port, path), method=method,
        data=b"{}" if method in ("POST", "PUT") else None)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def is_json_error(body):
    try:
        return "error" in json.loads(body)
    except ValueError:
        return False


def browse(chromium, url):
    """(DOM after 8 s of the page's virtual time, chromium's stderr)."""
    argv = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
            "--no-first-run", "--disable-extensions",
            "--user-data-dir=" + os.path.join(TMP, "chromium-profile"),
            "--virtual-time-budget=8000", "--dump-dom", url]
    t0 = time.time()
    # Its own process group: on a timeout (a page stuck in an alert()
    # would be one) the renderer and helpers go too.
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        out, err = b"", b"timed out"
    dom = out.decode("utf-8", "replace")
    print("# chromium took %.1f s for %s" % (time.time() - t0, url))
    return dom, err


class Broken(BaseHTTPRequestHandler):
    """Serves the page, but its API answers 503 (with markup in the
    error, which must be shown as text)."""

    def do_GET(self):
        if self.path in ("/", "/index.html"):
            code, ctype, body = 200, "text/html; charset=utf-8", PAGE
        else:
            code, ctype = 503, "application/json"
            body = b'{"error":"<b>store</b> is down"}'
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


pool = Pool("--difficulty", "0.00001", "--user-prefix", "acct.")
loka = Loka(config="[monitoring]\nworker_offline_after = \"10s\"\n"
            "worker_check_interval = \"1s\"\n",
            args=["--pool", "stratum+tcp://acct@127.0.0.1:%d" % pool.port])


def png_pixels(path):
    """The RGB(A) rows of a non-interlaced 8-bit PNG (what chromium
    writes), as lists of pixel tuples."""
    import struct
    import zlib
    data = open(path, "rb").read()
    pos, idat, w, h, ch = 8, b"", 0, 0, 3
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            ch = {2: 3, 6: 4}[ctype]
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, rows, prev = zlib.decompress(idat), [], bytearray(w * ch)
    stride = w * ch
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(
            raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - ch] if i >= ch else 0
            b, c = prev[i], prev[i - ch] if i >= ch else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pr) & 255
        rows.append([tuple(line[i:i + 3]) for i in range(0, stride, ch)])
        prev = line
    return rows

# --- the page and its headers --------------------------------------------
for path in ("/", "/index.html"):
    st, h, body = http(loka, "GET", path)
    check(st == 200 and body == PAGE,
          "GET %s: 200, the page src/api/dashboard.html" % path,
          (st, len(body), len(PAGE)))
    bad = {k: h.get(k) for k, v in HEADERS.items() if h.get(k) != v}
    check(not bad, "GET %s: content type and security headers" % path, bad)
st, h, body = http(loka, "HEAD", "/")
check(st == 200 and body == b"" and
      h.get("Content-Length") == str(len(PAGE)) and
      h.get("Content-Security-Policy") == CSP,
      "HEAD /: 200, no body, the page's length and headers",
      (st, len(body), h.get("Content-Length")))
for method, path in (("POST", "/"), ("PUT", "/"), ("DELETE", "/index.html")):
    st, h, body = http(loka, method, path)
    check(st == 405 and is_json_error(body),
          "%s %s: 405 with a JSON error" % (method, path), (st, body))
st, _, body = http(loka, "GET", "/index.htm")
check(st == 404 and is_json_error(body), "GET /index.htm: still 404", st)

# --- the page itself ------------------------------------------------------
text = PAGE.decode("utf-8")
check(len(PAGE) < 30 * 1024, "the page is under 30 KiB", len(PAGE))
links = re.findall(r"""\b(?:src|href|action)\s*=\s*["']?([^"'\s>]*)""",
                   text, re.I)
external = [u for u in links if not u.startswith(("data:", "#")) and
            u != "/assets/chart.min.js"] + \
    re.findall(r"\burl\(|@import", text, re.I)
check(not external, "the page loads nothing but its API and the charting "
      "library compiled into the binary", external)
st, h, body = http(loka, "GET", "/assets/chart.min.js")
with open("/usr/share/javascript/chart.js/chart.min.js", "rb") as f:
    chartjs = f.read()
check(st == 200 and body == chartjs and
      h.get("Content-Type", "").startswith("application/javascript"),
      "/assets/chart.min.js: Debian's Chart.js, from the binary",
      (st, h.get("Content-Type"), len(body)))
risky = re.findall(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|"
                   r"\beval\s*\(|new\s+Function|setTimeout\(\s*['\"]", text)
check(not risky, "the page never turns data into markup or code", risky)
# Every route the page names answers (a literal ending in "=" or "/" is
# the start of one the page completes: asked with a value here).
routes = sorted(set(re.findall(r"/api/v1/[A-Za-z0-9_./?=&%-]*", text)))
routes = [r + {"=": "24h" if "range" in r else "all", "/": "bc1qDashAddr"}
          .get(r[-1], "") for r in routes]
check({"/api/v1/status", "/api/v1/pools", "/api/v1/bans"} <= set(routes) and
      any(r.startswith("/api/v1/workers") for r in routes) and
      any(r.startswith("/api/v1/sessions") for r in routes),
      "the page reads status, pools, workers, sessions, bans", routes)
for r in routes:
    st, h, body = http(loka, "GET", r)
    # A miner's page before that miner mined: a JSON 404.
    check((st == 200 or (st == 404 and "/miners/" in r and
                         is_json_error(body))) and
          h.get("Content-Type") == "application/json",
          "the page's route %s answers JSON" % r, (st, body[:200]))
workers_url = re.search(r"'(/api/v1/workers\?[^']*)'", text).group(1)
sorts = re.findall(r'data-sort="([a-z_]+)"', text)
check(len(sorts) >= 5, "the worker table sorts by several columns", sorts)
for key in sorts:
    for order in ("asc", "desc"):
        q = "%s&sort=%s&order=%s&page=1&name=%s" % (
            workers_url, key, order, "%3Cimg")
        st, _, body = http(loka, "GET", q)
        check(st == 200, "the page's worker query sort=%s order=%s: 200" %
              (key, order), (st, body[:200]))

# --- a browser, while shares flow ------------------------------------------
chromium = shutil.which("chromium") or shutil.which("chromium-browser")
if chromium is None:
    print("ok - # SKIP headless browser checks: chromium is not installed")
else:
    hostile = Client(loka.port)
    hostile.send({"id": 1, "method": "mining.subscribe",
                  "params": [XSS_AGENT]})
    check(hostile.response(1) is not None, "a hostile miner subscribed")
    hostile.send({"id": 2, "method": "mining.authorize",
                  "params": [XSS_REFUSED, "x"]})
    r = hostile.response(2) or {}
    check(r.get("result") is not True,
          "a login with spaces is not authorized (but listed)", r)
    hostile.send({"id": 3, "method": "mining.authorize",
                  "params": [XSS_WORKER, "x"]})
    r = hostile.response(3) or {}
    check(r.get("result") is True, "a login with markup is authorized", r)

    miners = Proc("minersim", [MINERSIM, "--url", "stratum+tcp://127.0.0.1:%d"
                               % loka.port, "--miners", "3", "--rate", "5",
                               "--duration", "60", "--user",
                               "bc1qDashAddr.rig%d"])
    flowing = wait_until(lambda: (loka.get("/api/v1/status")[1].get(
        "shares", {}).get("accepted", 0)) >= 5, timeout=20)
    check(flowing, "shares flow through Loka")
    # ... and reach the books, which the charts read.
    wait_until(lambda: loka.get("/api/v1/hashrate?range=1h")[1].get(
        "points"), timeout=10)

    def books_accepted():
        b = loka.get("/api/v1/hashrate?range=24h")[1]
        return sum(p["accepted"] for p in b.get("points", []))

    # Shares keep flowing while the browser works (under sanitizers it
    # takes seconds): the page read the books between these two reads.
    books_before = books_accepted()
    dom, err = browse(chromium, "http://127.0.0.1:%d/" % loka.metrics_port)
    books_after = books_accepted()
    check("</html>" in dom, "chromium rendered the page", err[-500:])

    def table(name):
        m = re.search(r'<table id="%s">(.*?)</table>' % name, dom, re.S)
        return m.group(1) if m else ""

    def number(id_):
        m = re.search(r'id="%s"[^>]*>([0-9,]+)<' % id_, dom)
        return int(m.group(1).replace(",", "")) if m else -1

    check(re.search(r'<div class="banner" id="banner"[^>]*\bhidden\b',
                    dom), "no error banner: every API call answered",
          re.search(r'id="banner"[^>]*>[^<]*', dom))
    check(re.search(r"<td[^>]*>cli</td>", table("pools")),
          "the pools table shows the pool 'cli'", table("pools")[:500])
    check(re.search(r'id="mode"[^>]*>passthrough mode<', dom),
          "the mode is shown", re.search(r'id="mode".{0,40}', dom))
    check(number("accepted") > 0, "accepted shares shown, not zero",
          number("accepted"))
    check(number("miners") >= 4, "miners connected shown",
          number("miners"))
    check(re.search(r'id="hashrate"[^>]*>[0-9.]+ [kMGTPE]?H/s<', dom),
          "hashrate in human units", re.search(r'id="hashrate".{0,40}',
                                               dom))
    check("bc1qDashAddr.rig0" in table("workers"),
          "the workers table shows a simulated worker",
          table("workers")[:500])
    check("bc1qDashAddr.rig" in table("sessions"),
          "the sessions table shows the connected miners")
    check("&lt;img/src=x/onerror=alert(1)&gt;.rig" in table("workers"),
          "a worker name with markup is shown as text in the workers table")
    check("&lt;img src=x onerror=alert(1)&gt; (not authorized)" in
          table("sessions"),
          "a refused login with markup is shown as text in sessions")
    check("&lt;script&gt;alert(2)&lt;/script&gt;" in table("sessions"),
          "an agent with markup is shown as text in sessions")
    check("<img" not in dom.lower() and dom.lower().count("<script") == 2,
          "no element came from miners' names (no <img>, the page's two "
          "<script>s)")

    # --- history: the chart from the books, stopped workers ----------------
    m = re.search(r'id="chart-total" data-accepted="(\d+)"', dom)
    check(m and 0 < books_before <= int(m.group(1)) <= books_after,
          "the chart's series holds the books' shares (%s, books %d..%d)"
          % (m and m.group(1), books_before, books_after))
    shot = os.path.join(TMP, "dashboard.png")
    subprocess.run([chromium, "--headless=new", "--no-sandbox",
                    "--disable-gpu", "--no-first-run",
                    "--user-data-dir=" + os.path.join(TMP, "chromium-shot"),
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE "
                    "127.0.0.1", "--force-color-profile=srgb",
                    "--window-size=1200,900", "--virtual-time-budget=8000",
                    "--screenshot=" + shot,
                    "http://127.0.0.1:%d/" % loka.metrics_port],
                   capture_output=True, timeout=60, start_new_session=True)
    line = 0
    if os.path.exists(shot):
        # The farm's line, and nothing else on the page, is #0b7285.
        for row in png_pixels(shot):
            line += sum(1 for px in row if abs(px[0] - 0x0b) < 30 and
                        abs(px[1] - 0x72) < 30 and abs(px[2] - 0x85) < 30)
    check(line > 500, "the screenshot shows the chart's line across the "
          "range (%d pixels of its colour)" % line)
    # A rig that stops: offline on the page within the configured 10 s.
    miners.kill()
    stopped = time.time()
    wait_until(lambda: any(w["worker"] == "rig0" for w in loka.get(
        "/api/v1/workers?state=offline")[1].get("workers", [])), timeout=20)
    dom, err = browse(chromium, "http://127.0.0.1:%d/" % loka.metrics_port)
    m = re.search(r'<table id="stopped">(.*?)</table>', dom, re.S)
    check(m and "bc1qDashAddr.rig0" in m.group(1) and ">offline<" in
          m.group(1), "the stopped rigs are listed as offline on the page "
          "(%.1f s after they stopped)" % (time.time() - stopped),
          m and m.group(1)[:400] or dom[-2000:])
    hostile.close()

    # The same page when the API fails: a banner says so, as text.
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    dom, err = browse(chromium, "http://127.0.0.1:%d/" % srv.server_port)
    srv.shutdown()
    m = re.search(r'<div class="banner" id="banner"([^>]*)>([^<]*)</div>',
                  dom)
    check(m and "hidden" not in m.group(1) and "HTTP 503" in m.group(2) and
          "&lt;b&gt;store&lt;/b&gt; is down" in m.group(2) and
          "status" in m.group(2) and "workers" in m.group(2),
          "API failing: an error banner names the calls and the error",
          m and m.group(0) or err[-500:])

check(loka.proc.alive(), "Loka is still up")
loka.stop()

# --- turned off --------------------------------------------------------------
off = Loka(args=["--pool", "stratum+tcp://acct@127.0.0.1:%d" % pool.port],
           env={"LOKA_METRICS_DASHBOARD": "false"})
for path in ("/", "/index.html"):
    st, _, body = http(off, "GET", path)
    check(st == 404 and is_json_error(body),
          "dashboard = false: GET %s is 404" % path, st)
st, _, _ = http(off, "GET", "/api/v1/status")
check(st == 200, "dashboard = false: the API still answers", st)
off.stop()
done()
