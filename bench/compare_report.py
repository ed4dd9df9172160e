#!/usr/bin/env python3
"""compare_report.py: the table of bench/compare.sh.

    compare_report.py [--threshold PCT] RUN...

Each RUN is KIND:REVS:FILE, the saved output of one benchmark program:
  proxy:base,head:FILE    loka-bench-proxy with --loka the first revision
                          and --loka-b the second (targets "loka", "loka-b")
  store:head:FILE         loka-bench-store of one revision (one run per
                          paced rate, in one file)
  metrics:base:FILE       loka-bench-metrics of one revision

Reads the figures each program prints, takes the median of each figure
over the runs of each revision, and prints one line per figure: BASE,
HEAD, HEAD/BASE, the spread between runs and a mark where HEAD is worse
than BASE by more than PCT percent (default 10), in the figure's own
direction (throughput: higher is better; latency, CPU, memory: lower):
"WORSE" when every HEAD run is worse than every BASE run, "worse?" when
only the medians are (the runs overlap: likely noise, run more rounds).
"""
import re
import statistics
import sys

# Columns kept from loka-bench-proxy's tables, by table, and whether a
# higher value is better. Columns not listed (counts, the generator's CPU,
# the latency added over direct, which needs direct) are left out.
PROXY_COLUMNS = {
    "conns": [
        ("miners held", True),
        ("lost", False),
        ("RSS per miner", False),
        ("CPU while held", False),
        ("CPU s per 1M jobs forwarded", False),
    ],
    "shares": [
        ("shares/s", True),
        ("p50 us", False),
        ("p99 us", False),
        ("p99.9 us", False),
        ("CPU s per 1M msgs", False),
    ],
    "fanout": [
        ("p50 us", False),
        ("p99 us", False),
        ("last miner, median job us", False),
        ("proxy CPU s per 1M notify", False),
    ],
}

NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def first_number(cell):
    m = NUMBER.search(cell.replace(",", ""))
    return float(m.group()) if m else None


class Figures:
    """Values per figure and revision, figures in order of first sight."""

    def __init__(self):
        self.order = []
        self.higher = {}
        self.values = {}

    def add(self, name, higher_better, rev, value):
        if value is None:
            return
        if name not in self.values:
            self.order.append(name)
            self.higher[name] = higher_better
            self.values[name] = {"base": [], "head": []}
        self.values[name][rev].append(value)


def read_proxy(path, revs, figs):
    """Tables of loka-bench-proxy; rows 'loka' and 'loka-b' map to revs."""
    rows = {"loka": revs[0], "loka-b": revs[1]}
    scenario = phase = None
    columns = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            m = re.match(r"## (conns|shares|fanout)\b", line)
            if m:
                scenario, phase, columns = m.group(1), "", []
                continue
            if scenario == "shares":
                if line.startswith("Closed loop"):
                    phase = "closed loop"
                m = re.match(r"Paced at (\d+) shares/s", line)
                if m:
                    phase = "paced %s/s" % m.group(1)
            if not line.startswith("|") or scenario is None:
                continue
            cells = [c.strip() for c in line.strip("|").split("|")]
            if cells[0] == "target":
                columns = cells
                continue
            if cells[0] not in rows or not columns:
                continue
            wanted = dict(PROXY_COLUMNS[scenario])
            for col, cell in zip(columns, cells):
                if col not in wanted:
                    continue
                where = scenario + (", " + phase if phase else "")
                figs.add("%s: %s" % (where, col), wanted[col],
                         rows[cells[0]], first_number(cell))


def read_store(path, rev, figs):
    """loka-bench-store's lines; each run starts with 'backend'."""
    rate = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, _, rest = line.partition("  ")
            rest = rest.strip()
            m = re.search(r"= (\d+) events/s", rest)
            if key == "events posted" and m:
                # The offered rate names the run (posted ~ offered).
                rate = int(round(int(m.group(1)), -3))
            elif key == "post cost":
                figs.add("store %d/s: post cost ns" % rate, False, rev,
                         first_number(rest))
            elif key == "events refused":
                figs.add("store %d/s: events refused" % rate, False, rev,
                         first_number(rest))
            elif key == "into the database" and m:
                figs.add("store %d/s: into the database events/s" % rate,
                         True, rev, float(m.group(1)))


def read_metrics(path, rev, figs):
    """loka-bench-metrics: 'op   1.23 ns   1.40 / 1.52 ns'."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"(\S+(?: \S+)*?)\s{2,}([\d.]+) ns\s+([\d.]+) / "
                         r"([\d.]+) ns", line)
            if not m:
                continue
            op = m.group(1)
            figs.add("metrics: %s, 1 thread ns" % op, False, rev,
                     float(m.group(2)))
            figs.add("metrics: %s, 2 threads ns (mean)" % op, False, rev,
                     (float(m.group(3)) + float(m.group(4))) / 2)


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return "{:,.0f}".format(v)
    if abs(v) >= 100:
        return "%.0f" % v
    return "%.3g" % v


def spread(vals):
    """(max - min) / median over the runs of one revision, in percent."""
    if len(vals) < 2:
        return None
    med = statistics.median(vals)
    if med == 0:
        return None
    return 100.0 * (max(vals) - min(vals)) / abs(med)


def overlap(a, b):
    """Whether the ranges of two revisions' runs meet."""
    return min(a) <= max(b) and min(b) <= max(a)


def main(argv):
    threshold = 10.0
    args = argv[1:]
    if len(args) >= 2 and args[0] == "--threshold":
        threshold = float(args[1])
        args = args[2:]
    figs = Figures()
    for run in args:
        kind, revs, path = run.split(":", 2)
        revs = revs.split(",")
        if kind == "proxy":
            read_proxy(path, revs, figs)
        elif kind == "store":
            read_store(path, revs[0], figs)
        elif kind == "metrics":
            read_metrics(path, revs[0], figs)
        else:
            sys.exit("compare_report.py: unknown kind %r" % kind)

    width = max([len(n) for n in figs.order] + [6]) + 2
    print("%-*s  %12s  %12s  %9s  %7s" % (width, "figure", "BASE", "HEAD",
                                         "HEAD/BASE", "spread"))
    worse = unsure = better = 0
    for name in figs.order:
        v = figs.values[name]
        base = statistics.median(v["base"]) if v["base"] else None
        head = statistics.median(v["head"]) if v["head"] else None
        ratio = mark = ""
        if base is not None and head is not None:
            if base != 0:
                r = head / base
                ratio = "%.3f" % r
                # Worse by more than the threshold in the figure's
                # direction: lower throughput, higher latency or cost.
                if figs.higher[name]:
                    bad = r < 1 - threshold / 100
                    good = r > 1 + threshold / 100
                else:
                    bad = r > 1 + threshold / 100
                    good = r < 1 - threshold / 100
            else:
                ratio = "-" if head == 0 else "inf"
                bad = head != 0 and not figs.higher[name]
                good = head != 0 and figs.higher[name]
            if bad:
                # Worse in every run, or only in the medians?
                if overlap(v["base"], v["head"]):
                    mark = "  << worse? (runs overlap)"
                    unsure += 1
                else:
                    mark = "  << WORSE"
                    worse += 1
            elif good:
                better += 1
        spreads = [s for s in (spread(v["base"]), spread(v["head"]))
                   if s is not None]
        sp = "%.0f%%" % max(spreads) if spreads else "-"
        arrow = "^" if figs.higher[name] else "v"
        print("%-*s  %12s  %12s  %9s  %7s%s" % (
            width, name + " " + arrow, fmt(base), fmt(head), ratio, sp,
            mark))
    print()
    print("^ higher is better, v lower is better; medians of %s; spread: "
          "(max - min) / median over one revision's runs, the larger of "
          "the two" % runs_text(figs))
    print("worse by more than %g%%: %d in every run (WORSE), %d in the "
          "medians only, the runs of the two overlapping (worse?); better "
          "by more than %g%%: %d" % (threshold, worse, unsure, threshold,
                                     better))
    return 0


def runs_text(figs):
    counts = sorted({len(v[r]) for v in figs.values.values()
                     for r in ("base", "head") if v[r]})
    return "/".join(str(c) for c in counts) + " runs each"


if __name__ == "__main__":
    sys.exit(main(sys.argv))
