#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# compare.py OLD.json NEW.json
#
# Do two "make bench" runs agree?  Under TCG on a shared machine the
# absolute figures drift with the host load between runs, so what must
# agree is the ratio: per figure, each run's ratio ours/upstream with the
# range its rounds admit (min(ours)/max(upstream) .. max(ours)/min(upstream)),
# and whether the two ranges overlap.  Whether the absolute min..max of
# each implementation overlap is shown too.
import json
import sys


def figures(path):
    with open(path) as f:
        doc = json.load(f)
    return {(r["workload"], r["figure"]): r for r in doc["results"] if "skipped" not in r}


def overlap(a, b):
    return a and b and a["min"] <= b["max"] and b["min"] <= a["max"]


def ratio_range(r):
    o, u = r["ours"], r["upstream"]
    if not o or not u or u["min"] <= 0 or u["max"] <= 0:
        return None
    return {"min": o["min"] / u["max"], "max": o["max"] / u["min"]}


def rng(r):
    return "-" if not r else "%.2f..%.2f" % (r["min"], r["max"])


def main():
    old, new = figures(sys.argv[1]), figures(sys.argv[2])
    print()
    print("Agreement with the previous run (%s):" % sys.argv[1])
    print("%-10s %-32s %-18s %-18s %-6s %s" % ("workload", "figure", "ratio old (range)",
                                               "ratio new (range)", "ratio", "absolute"))
    agree = total = 0
    for key, n in new.items():
        o = old.get(key)
        if not o or n["better"] == "info":
            continue
        ro, rn = ratio_range(o), ratio_range(n)
        ok = bool(overlap(ro, rn))
        absolute = all(overlap(o[i], n[i]) for i in ("ours", "upstream"))
        total += 1
        agree += ok
        print("%-10s %-32s %-18s %-18s %-6s %s" % (
            key[0], key[1],
            "%.2f (%s)" % (o["ratio"], rng(ro)) if o["ratio"] is not None else "-",
            "%.2f (%s)" % (n["ratio"], rng(rn)) if n["ratio"] is not None else "-",
            "agree" if ok else "DIFFER", "overlap" if absolute else "drifted"))
    print("%d of %d ratios agree within the spread of the rounds "
          "(absolute: \"drifted\" = an implementation's ranges do not overlap)" % (agree, total))


if __name__ == "__main__":
    main()
