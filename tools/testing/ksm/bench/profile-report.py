#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""profile-report.py OURS.txt UPSTREAM.txt

Print where ksmd's time went in "make profile": the ftrace function
profiler's per-CPU tables (inclusive time, since the graph tracer times
each call to its return) summed over CPUs, grouped into the phases of a
scan the two implementations share, then the busiest functions of each.
The workload's ksm-bench figures come first, for the ksmd CPU time."""
import sys

# Phase: (our function(s), upstream function(s)).  Each phase's time is
# the inclusive time of the outermost function doing it on that side.
PHASES = [
    ('find next page (page walk, item lookup)',
     ['ksm_scan_next'], ['scan_get_next_rmap_item']),
    ('checksum', ['ksm_page_csum'], ['calc_checksum']),
    ('stable tree lookup', ['ksm_stable_find'], ['stable_tree_search']),
    ('unstable tree lookup/insert', ['ksm_unstable_match'],
     ['unstable_tree_search_insert']),
    ('  page of an unstable node (mmap_lock, vma, walk)',
     ['ksm_item_get_page'], ['get_mergeable_page']),
    ('  KSM folio of a stable node', ['ksm_snode_folio'], ['ksm_get_folio']),
    ('  page compare (memcmp_pages)', ['memcmp_pages'], ['memcmp_pages']),
    ('merge (write-protect, replace pte)', ['ksm_merge_one'],
     ['try_to_merge_one_page']),
    ('stable tree insert', ['ksm_stable_insert'], ['stable_tree_insert']),
    ('LRU drain per round', ['lru_add_drain_all'], ['lru_add_drain_all']),
]


def parse(path):
    figs, funcs, section = [], {}, None
    with open(path, errors='replace') as f:
        for line in f:
            line = line.rstrip('\n')
            if line.startswith('== '):
                section = line[3:]
                continue
            if section == 'bench':
                parts = line.split('\t')
                if parts[0] == 'fig' and len(parts) == 6:
                    figs.append(parts[1:])
                continue
            p = line.split()
            # "name hits time us avg us s^2 us"
            if len(p) >= 4 and p[1].isdigit() and p[3] == 'us':
                hit, us = int(p[1]), float(p[2])
                h, t = funcs.get(p[0], (0, 0.0))
                funcs[p[0]] = (h + hit, t + us)
    return figs, funcs


def phase(funcs, names):
    found = [funcs[n] for n in names if n in funcs]
    if not found:
        return None
    return sum(h for h, _ in found), sum(t for _, t in found)


def fmt(v):
    if v is None:
        return '%10s %9s %8s' % ('-', '-', '-')
    hits, us = v
    return '%10.1f %9d %8.2f' % (us / 1000, hits, us / hits if hits else 0)


def main():
    ours_figs, ours = parse(sys.argv[1])
    up_figs, up = parse(sys.argv[2])
    if not ours or not up:
        sys.exit('profile-report: no profiler output (see the console logs)')
    print('Function profiler, inclusive times summed over CPUs; the hooks '
          'slow\nevery profiled call, so compare the split, not totals.\n')
    upf = {(f[0], f[1]): f for f in up_figs}
    print('%-44s %12s %12s' % ('ksm-bench figure', 'ours', 'upstream'))
    for f in ours_figs:
        u = upf.get((f[0], f[1]))
        print('%-44s %12s %12s  %s' % ((f[0] + ' ' + f[1])[:44], f[4],
                                       u[4] if u else '-', f[2]))
    print('\n%-48s %-30s  %-30s' % ('phase', 'ours: ms, calls, us/call',
                                    'upstream: ms, calls, us/call'))
    for name, o, u in PHASES:
        po, pu = phase(ours, o), phase(up, u)
        ratio = ''
        if po and pu and pu[1]:
            ratio = 'x%.2f' % (po[1] / pu[1])
        print('%-48s %s  %s  %s' % (name, fmt(po), fmt(pu), ratio))
    for label, funcs in (('ours', ours), ('upstream', up)):
        print('\nBusiest functions, %s:' % label)
        top = sorted(funcs.items(), key=lambda kv: -kv[1][1])[:15]
        for fn, v in top:
            print('  %-40s %s' % (fn, fmt((v[0], v[1]))))


if __name__ == '__main__':
    main()
