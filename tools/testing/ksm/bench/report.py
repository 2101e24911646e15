#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# report.py OUTDIR RUN_VM_SH
#
# Aggregate the records ksm-bench wrote in OUTDIR/raw/rN-IMPL.tsv (one file
# per boot): print the side-by-side table, write OUTDIR/results.json and,
# through gnuplot, OUTDIR/w2-pages-sharing.png.  OUTDIR/mode, if present,
# says how QEMU ran the guests when it was not the default (run.sh's
# instruction counting pass).
import json
import os
import re
import statistics
import subprocess
import sys

IMPLS = ("ours", "upstream")
PHASES = ("W2-default", "W2-fast")

# What each figure should reach: (workload regex, figure regex, kind, value).
# Kinds: "ratio>=" and "ratio<=" bound median(ours) / median(upstream);
# "abs<" and "abs<=" bound median(ours) itself; "equal" wants the medians
# equal; "growth" wants median(ours) - 1 at most half of median(upstream)
# - 1 (ours grows by at most half as much).  The first match applies.
TARGETS = (
    (r"W1(-THP)?$", r"merge per ksmd CPU$", "ratio>=", 2.0),
    (r"W1(-THP)?$", r"merged$", "equal", None),
    (r"W2-\w+$", r"ksmd CPU to converge$", "ratio<=", 0.5),
    (r"W2-\w+$", r"merged of mergeable$", "equal", None),
    (r"W3$", r"ksmd CPU per full scan$", "ratio<=", 0.5),
    (r"W4$", r"run=2 unmerge time$", "ratio<=", 1.0),
    (r"W5$", r"COW fault (median|p99)", "ratio<=", 1.0),
    (r"W6$", r"move_pages of a KSM page, .*, (median|max)$", "abs<", 1000.0),
    (r"W7$", r"(objects|footprint) per tracked page$", "abs<=", 56.0),
    (r"W8$", r"p99, ksmd on$", "ratio<=", 1.0),
    (r"W9$", r"cost growth", "growth", None),
    (r"W10$", r"whole scenario$", "ratio<=", 1.0),
)

# W11 runs W1 and W2-fast with every process in one memory cgroup, once per
# merge_scope, recorded as workloads W11-SCOPE-W1 and W11-SCOPE-W2-fast.
# Upstream has no merge_scope: the section compares ours with ours, memcg
# against global, by figure "SUB-WORKLOAD: FIGURE".  In one cgroup both
# scopes must merge the same pages (judged like "equal" above, memcg
# against global); the cost should agree within the noise, which a few
# rounds under TCG cannot bound, so it is shown without a verdict.
SCOPES = ("global", "memcg")
SCOPE_WORKLOAD = re.compile(r"W11-(%s)-(.+)$" % "|".join(SCOPES))
SCOPE_COST = {"kind": "info", "value": 1.0, "text": "≈1.0 (within noise)"}
SCOPE_TARGETS = (
    (r"^W1: merge per ksmd CPU$", SCOPE_COST),
    (r"^W2-fast: ksmd CPU to converge$", SCOPE_COST),
    (r": merged at convergence$", {"kind": "equal", "value": None, "text": "== global"}),
)


def target_of(w, name, unit):
    """The target of a figure as {kind, value, text}, or None."""
    for wre, fre, kind, value in TARGETS:
        if re.match(wre, w) and re.search(fre, name):
            text = {"ratio>=": ">= %.1fx" % (value or 0),
                    "ratio<=": "<= %.1fx" % (value or 0),
                    "abs<": "< %g %s" % (value or 0, unit),
                    "abs<=": "<= %g %s" % (value or 0, unit),
                    "equal": "== upstream",
                    "growth": "ours-1 <= (up-1)/2"}[kind]
            return {"kind": kind, "value": value, "text": text}
    return None


def met(target, ours, up, ratio):
    """Whether the medians meet @target: True, False, or None if unknown."""
    if not target or not ours:
        return None
    kind, value, o = target["kind"], target["value"], ours["median"]
    if kind == "abs<":
        return o < value
    if kind == "abs<=":
        return o <= value
    if not up:
        return None
    u = up["median"]
    if kind == "equal":
        return abs(o - u) <= 1e-9 * max(abs(o), abs(u), 1)
    if kind == "growth":
        return o - 1 <= (u - 1) / 2
    if ratio is None:
        return None
    return ratio >= value if kind == "ratio>=" else ratio <= value


def load(outdir):
    """Return figures, series, info, skips, who skipped and the rounds."""
    figs = {}      # (workload, figure) -> {unit, better, order, samples{impl: []}}
    series = {}    # (phase, impl, round) -> [(t, pages_sharing)]
    info = {impl: {} for impl in IMPLS}
    skips = {}
    skipped_by = {}  # (workload, figure) -> {impl}
    rounds = set()
    rawdir = os.path.join(outdir, "raw")
    for name in sorted(os.listdir(rawdir)):
        m = re.match(r"r(\d+)-(\w+)\.tsv$", name)
        if not m or m.group(2) not in IMPLS:
            continue
        rnd, impl = int(m.group(1)), m.group(2)
        rounds.add(rnd)
        with open(os.path.join(rawdir, name), errors="replace") as f:
            for line in f:
                rec = line.rstrip("\r\n").split("\t")
                if rec[0] == "fig" and len(rec) == 6:
                    key = (rec[1], rec[2])
                    ent = figs.setdefault(key, {"unit": rec[3], "better": rec[4],
                                                "order": len(figs),
                                                "samples": {i: [] for i in IMPLS}})
                    ent["samples"][impl].append(float(rec[5]))
                elif rec[0] == "ts" and len(rec) == 4:
                    series.setdefault((rec[1], impl, rnd), []).append(
                        (float(rec[2]), int(rec[3])))
                elif rec[0] == "info" and len(rec) == 3:
                    info[impl].setdefault(rec[1], rec[2])
                elif rec[0] == "skip" and len(rec) == 4:
                    skips[(rec[1], rec[2])] = rec[3]
                    skipped_by.setdefault((rec[1], rec[2]), set()).add(impl)
    return figs, series, info, skips, skipped_by, sorted(rounds)


def is_scope(w):
    """Is @w one of W11's workloads (W11 itself in its skip records)?"""
    return w == "W11" or w.startswith("W11-")


def scope_figures(figs):
    """Ours' W11 samples by (sub-workload, figure): {unit, better, order, samples{scope}}."""
    out = {}
    for (w, name), ent in figs.items():
        m = SCOPE_WORKLOAD.match(w)
        if not m:
            continue
        scope, sub = m.groups()
        row = out.setdefault((sub, name), {"unit": ent["unit"], "better": ent["better"],
                                           "order": ent["order"],
                                           "samples": {s: [] for s in SCOPES}})
        row["order"] = min(row["order"], ent["order"])
        row["samples"][scope] = ent["samples"]["ours"]
    return out


def scope_target(fig):
    """The target of W11's @fig ("SUB-WORKLOAD: FIGURE"), or None."""
    for fre, target in SCOPE_TARGETS:
        if re.search(fre, fig):
            return target
    return None


def wnum(w):
    """Sort key of a workload: W1, W1-THP, W2-..., W3, ... W10 by number."""
    m = re.match(r"W(\d+)", w)
    return int(m.group(1)) if m else 1 << 30


def stats(samples):
    if not samples:
        return None
    s = sorted(samples)
    q = statistics.quantiles(s, n=4, method="inclusive") if len(s) > 1 else [s[0]] * 3
    return {"samples": samples, "median": statistics.median(s), "min": s[0],
            "max": s[-1], "iqr": [q[0], q[2]]}


def verdict(ent, ours, up, who="ours"):
    """Better/worse only when the two ranges do not overlap."""
    if ent["better"] not in ("higher", "lower") or not ours or not up:
        return ""
    if ours["min"] > up["max"]:
        return who + (" better" if ent["better"] == "higher" else " worse")
    if ours["max"] < up["min"]:
        return who + (" worse" if ent["better"] == "higher" else " better")
    return ""


def fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1000:
        return "%.0f" % v
    if a >= 100:
        return "%.1f" % v
    if a >= 1:
        return "%.2f" % v
    return "%.3g" % v


def qemu_settings(run_vm, append):
    """The QEMU command line of run-vm.sh, so the JSON says what was run."""
    text = open(run_vm).read()
    m = re.search(r"qemu=\((.*?)\)\n", text, re.S)
    args = " ".join(m.group(1).split()) if m else "unknown"
    try:
        ver = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                             text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        ver = "unknown"
    return {"version": ver, "command": args, "extra_kernel_args": append,
            "accel": "tcg" if "tcg" in args else "unknown"}


def plot(outdir, series, rounds):
    # A run without W2 (ksm-bench -w) has nothing to plot.
    if not any(phase in PHASES for phase, _, _ in series):
        return None
    datadir = os.path.join(outdir, "series")
    os.makedirs(datadir, exist_ok=True)
    for (phase, impl, rnd), pts in series.items():
        if phase not in PHASES:
            continue
        with open(os.path.join(datadir, "%s-%s-r%d.dat" % (phase, impl, rnd)), "w") as f:
            for t, v in pts:
                f.write("%.3f %d\n" % (t, v))
    png = os.path.join(outdir, "w2-pages-sharing.png")
    gp = os.path.join(os.path.dirname(os.path.realpath(__file__)), "w2-plot.gp")
    try:
        subprocess.run(["gnuplot", "-e", "datadir='%s'; outfile='%s'; nrounds=%d"
                        % (datadir, png, max(rounds or [1])), gp], check=True,
                       capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print("bench: plot failed: %s" % getattr(e, "stderr", e), file=sys.stderr)
        return None
    return png


def main():
    outdir, run_vm = sys.argv[1], sys.argv[2]
    figs, series, info, skips, skipped_by, rounds = load(outdir)
    scope = scope_figures(figs)
    figs = {k: v for k, v in figs.items() if not is_scope(k[0])}
    scope_skips = {k: v for k, v in skips.items() if is_scope(k[0])}
    skips = {k: v for k, v in skips.items() if not is_scope(k[0])}
    try:
        append = open(os.path.join(outdir, "append")).read().strip()
    except OSError:
        append = ""
    try:
        mode = open(os.path.join(outdir, "mode")).read().strip()
    except OSError:
        mode = None

    rows, results = [], []
    # By workload (W1 before W1-THP before W2...), then in the guest's order.
    for (w, name), ent in sorted(figs.items(), key=lambda kv: (wnum(kv[0][0]), kv[1]["order"])):
        ours, up = stats(ent["samples"]["ours"]), stats(ent["samples"]["upstream"])
        ratio = None
        if ours and up and up["median"]:
            ratio = ours["median"] / up["median"]
        v = verdict(ent, ours, up)
        tgt = target_of(w, name, ent["unit"])
        ok = met(tgt, ours, up, ratio)
        results.append({"workload": w, "figure": name, "unit": ent["unit"],
                        "better": ent["better"], "ours": ours, "upstream": up,
                        "ratio": ratio, "verdict": v or "within noise",
                        "target": tgt, "met": ok})
        rows.append((w, name, ent["unit"], ours, up, ratio, v, ent["better"], tgt, ok))

    # W11, ours only: memcg against global, figure by figure.
    scope_rows, scope_results = [], []
    for (sub, name), ent in sorted(scope.items(), key=lambda kv: kv[1]["order"]):
        glob, memcg = (stats(ent["samples"][s]) for s in SCOPES)
        ratio = None
        if glob and memcg and glob["median"]:
            ratio = memcg["median"] / glob["median"]
        v = verdict(ent, memcg, glob, "memcg")
        fig = "%s: %s" % (sub, name)
        tgt = scope_target(fig)
        ok = met(tgt, memcg, glob, ratio) if tgt and tgt["kind"] != "info" else None
        scope_results.append({"workload": "W11", "figure": fig, "unit": ent["unit"],
                              "better": ent["better"], "global": glob, "memcg": memcg,
                              "ratio": ratio, "verdict": v or "within noise",
                              "target": tgt, "met": ok})
        scope_rows.append((fig, ent["unit"], glob, memcg, ratio, v, ent["better"], tgt, ok))
    scope_skipped = [{"workload": w, "figure": name, "impl": sorted(skipped_by[(w, name)]),
                      "skipped": why} for (w, name), why in scope_skips.items()]

    for (w, name), why in skips.items():
        results.append({"workload": w, "figure": name, "skipped": why})
        rows.append((w, name, why, None, None, None, None, "skip", None, None))
    rows.sort(key=lambda r: wnum(r[0]))

    print()
    print("KSM bench: ours vs upstream, %d round(s) per implementation, "
          "median [min..max] over rounds" % len(rounds))
    if mode:
        print("Under %s." % mode)
    print("QEMU TCG without KVM: absolute numbers mean little here; "
          "compare ratios within this run only.")
    fw = max([32] + [len(r[1]) for r in rows if r[7] != "skip"])
    line = "%-10s %-*s %-9s %-27s %-27s %6s  %-18s %-3s  %s"
    hdr = line % ("workload", fw, "figure", "unit", "ours", "upstream", "ratio", "target",
                  "met", "")
    print(hdr)
    print("-" * len(hdr))

    def cell(s):
        return "-" if not s else "%s [%s..%s]" % (fmt(s["median"]), fmt(s["min"]), fmt(s["max"]))

    for w, name, unit, ours, up, ratio, v, better, tgt, ok in rows:
        if better == "skip":
            print("%-10s %-*s %s" % (w, fw, name, unit))
            continue
        tag = v if v else ("(info)" if better == "info" else "")
        print((line % (
            w, fw, name, unit, cell(ours), cell(up),
            "%.2f" % ratio if ratio is not None else "-",
            tgt["text"] if tgt else "", {True: "yes", False: "no"}.get(ok, "-" if tgt else ""),
            tag)).rstrip())
    if scope_rows or scope_skipped:
        sw = max([fw] + [len(r[0]) for r in scope_rows])
        sline = "%-10s %-*s %-9s %-27s %-27s %6s  %-20s %-3s  %s"
        print()
        print("W11, ours only: merge_scope=memcg against merge_scope=global, every "
              "process in one memory cgroup;")
        print("ratio = median(memcg) / median(global)")
        shdr = sline % ("workload", sw, "figure", "unit", "ours, global", "ours, memcg",
                        "ratio", "target", "met", "")
        print(shdr)
        print("-" * len(shdr))
        for fig, unit, glob, memcg, ratio, v, better, tgt, ok in scope_rows:
            tag = v if v else ("(info)" if better == "info" else "")
            print((sline % (
                "W11", sw, fig, unit, cell(glob), cell(memcg),
                "%.2f" % ratio if ratio is not None else "-", tgt["text"] if tgt else "",
                {True: "yes", False: "no"}.get(ok, "-" if tgt else ""), tag)).rstrip())
        for s in scope_skipped:
            print("%-10s %-*s %s: %s" % (s["workload"], sw, s["figure"],
                                         ", ".join(s["impl"]), s["skipped"]))
    print()
    print("ratio = median(ours) / median(upstream); \"ours better/worse\" only "
          "when the min..max ranges do not overlap.")
    print("target: Nx bounds the ratio; a unit bounds ours itself; met compares "
          "the medians.")
    judged = [r for r in results + scope_results if r.get("met") is not None]
    print("targets met: %d of %d%s" % (
        sum(r["met"] for r in judged), len(judged),
        "" if all(r["met"] for r in judged) else " (not met: %s)" % "; ".join(
            "%s %s" % (r["workload"], r["figure"]) for r in judged if not r["met"])))
    for impl in IMPLS:
        i = info[impl]
        print("%-8s kernel %s; KSM slab caches: %s; ksmd: %s" % (
            impl, i.get("kernel", "?"), i.get("W7-caches", "?"), i.get("ksmd", "?")))
    print("sizes: %s" % info["upstream"].get("sizes", info["ours"].get("sizes", "?")))
    print("       (the issue asks for W1 512 MiB, W2 4 x 256 MiB, W4 sparse 1 TiB, "
          "W9 64/256/1024 MiB,")
    print("       W10 3 x 128 MiB; scaled down where needed to fit the time budget under TCG)")

    png = plot(outdir, series, rounds)
    # run.sh records which image was booted: uname alone cannot tell the
    # two apart, the build stamps are fixed for ccache.
    images = {}
    try:
        with open(os.path.join(outdir, "kernels")) as f:
            for line in f:
                impl, sha, path = line.split()
                images[impl] = {"bzImage": path, "sha1": sha}
    except (OSError, ValueError):
        pass
    doc = {
        "kernel": {impl: dict(images.get(impl, {}), uname=info[impl].get("kernel"))
                   for impl in IMPLS},
        "qemu": dict(qemu_settings(run_vm, append), mode=mode or "default"),
        "note": "QEMU TCG without KVM: only ratios within one run are meaningful",
        "rounds": len(rounds),
        "order": "ours, upstream alternating, one boot each per round",
        "sizes": info["upstream"].get("sizes", info["ours"].get("sizes")),
        "info": info,
        "results": results,
        "plot": png,
    }
    if scope_results or scope_skipped:
        doc["merge_scope"] = {
            "note": "W11, ours only: every process in one memory cgroup; ratio = "
                    "median(memcg) / median(global)",
            "results": scope_results,
            "skipped": scope_skipped,
        }
    path = os.path.join(outdir, "results.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    print("results: %s%s" % (path, ", plot: %s" % png if png else ""))


if __name__ == "__main__":
    main()
