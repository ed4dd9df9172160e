"""The reporting every Python test of Loka uses: one "ok - ..." or
"not ok - ...: detail" line per check, a count at the end, exit status 1
when any check failed. Also the small loopback helpers they share.
"""
import socket
import sys

passed = 0
failed = 0


def check(cond, what, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok - " + what, flush=True)
    else:
        failed += 1
        print("not ok - " + what + (": " + str(detail) if detail else ""),
              flush=True)
    return cond


def finish():
    """Print the count and exit: 0 when every check passed."""
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(0 if failed == 0 else 1)


def free_port():
    """A TCP port free on 127.0.0.1 now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
