#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# compare.py OLD.json NEW.json
#
# Do two "make bench" runs agree?  Per figure: the ratio ours/upstream of
# each run, and whether each implementation's min..max ranges of the two
# runs overlap (the noise of one run covers the other).
import json
import sys


def figures(path):
    with open(path) as f:
        doc = json.load(f)
    return {(r["workload"], r["figure"]): r for r in doc["results"] if "skipped" not in r}


def overlap(a, b):
    return a and b and a["min"] <= b["max"] and b["min"] <= a["max"]


def main():
    old, new = figures(sys.argv[1]), figures(sys.argv[2])
    print()
    print("Agreement with the previous run (%s):" % sys.argv[1])
    print("%-10s %-32s %9s %9s  %s" % ("workload", "figure", "ratio old", "ratio new", ""))
    agree = total = 0
    for key, n in new.items():
        o = old.get(key)
        if not o or n["better"] == "info":
            continue
        ok = all(overlap(o[i], n[i]) for i in ("ours", "upstream"))
        total += 1
        agree += bool(ok)
        print("%-10s %-32s %9s %9s  %s" % (
            key[0], key[1],
            "%.2f" % o["ratio"] if o["ratio"] is not None else "-",
            "%.2f" % n["ratio"] if n["ratio"] is not None else "-",
            "agree" if ok else "DIFFER (min..max ranges do not overlap)"))
    print("%d of %d figures agree within the spread of the rounds" % (agree, total))


if __name__ == "__main__":
    main()
