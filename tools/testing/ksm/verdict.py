#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""verdict.py CONSOLE_LOG RESULTS_LOG EXPECTED_SKIPS [TAP_OUT [IMPL]]

Turn one guest run into a verdict:
  - every selftest result (TAP "ok"/"not ok" lines, or the exit status of a
    test that prints no TAP: 0 pass, 4 skip, else fail), from RESULTS_LOG;
  - every KUnit test case, from the kernel's KTAP on CONSOLE_LOG;
  - any kernel splat on CONSOLE_LOG fails the run, whatever the tests said.
A skip counts as a failure unless EXPECTED_SKIPS lists it (a regular
expression matched against the result's name, a tab, and the reason; an
expression prefixed "IMPL:" applies only to that implementation, e.g. to
what only newer kernels than the in-tree 6.12 KSM provide).
A failure listed in expected-failures (next to EXPECTED_SKIPS, same
format) is reported as XFAIL and does not fail the run: the regression
tests of defects that the in-tree 6.12 KSM shares fail there by design.
Prints one line per result and, last, exactly "N passed, N failed" with
", N skipped" and ", N expected failures" when there are any.  Exits 0
only when nothing failed.
"""
import os
import re
import sys

SPLATS = re.compile(
    r'BUG:|WARNING:|KASAN:|UBSAN:|Call Trace:|Oops|Kernel panic|'
    r'general protection fault|INFO: task .* blocked|'
    r'possible (recursive|circular) locking|DEBUG_LOCKS_WARN_ON|'
    r'turning off the locking correctness validator|'
    r'soft lockup|hard LOCKUP|rcu_.*detected stall')
TIMESTAMP = re.compile(r'^\[\s*\d+\.\d+\]\s?')
TAP = re.compile(r'^(not ok|ok)\s+(\d+)\s*-?\s*([^#]*?)\s*(#\s*(\S+)(.*))?$')
PLAN = re.compile(r'^1\.\.(\d+)')


def read(path):
    try:
        with open(path, errors='replace') as f:
            return f.read().replace('\r', '').split('\n')
    except FileNotFoundError:
        return []


def tap_status(m):
    directive = (m.group(5) or '').upper()
    if directive == 'SKIP':
        return 'skip'
    if directive == 'XFAIL':
        return 'pass'
    return 'pass' if m.group(1) == 'ok' else 'fail'


def selftest_results(lines):
    """Yield (name, status, detail) from the framed output of the guest.
    A test run again (a racy one, see guest/check.sh) is judged by its
    last attempt; the failed attempts before it are named in the detail."""
    blocks, name, body = {}, None, []
    for line in lines:
        if line.startswith('KSMTEST-BEGIN '):
            name, body = line[len('KSMTEST-BEGIN '):], []
            continue
        m = re.match(r'^KSMTEST-END (.*) (-?\d+)$', line)
        if m and name is not None:
            blocks.setdefault(name, []).append(list(one_selftest(name, body, int(m.group(2)))))
            name = None
            continue
        if name is not None:
            body.append(line)
    if name is not None:
        blocks.setdefault(name, []).append([(name, 'fail', 'did not finish')])
    for attempts in blocks.values():
        for res, status, detail in attempts[-1]:
            if len(attempts) > 1:
                note = 'attempt %d; %d failed before' % (len(attempts), len(attempts) - 1)
                detail = '%s; %s' % (detail, note) if detail else note
            yield res, status, detail


def one_selftest(name, body, rc):
    results, plan = [], None
    for line in body:
        if plan is None and PLAN.match(line):
            plan = int(PLAN.match(line).group(1))
        m = TAP.match(line)
        if m:
            desc = m.group(3) or 'test %s' % m.group(2)
            results.append(('%s: %s' % (name, desc), tap_status(m),
                            (m.group(6) or '').strip()))
    if not results:
        status = {0: 'pass', 4: 'skip'}.get(rc, 'fail')
        yield name, status, '' if status == 'pass' else 'exit status %d' % rc
        return
    yield from results
    if plan is not None and len(results) != plan:
        yield name, 'fail', 'planned %d results, saw %d' % (plan, len(results))
    if rc not in (0, 4) and not any(s == 'fail' for _, s, _ in results):
        yield name, 'fail', 'exit status %d' % rc


def kunit_results(lines):
    """Yield KUnit test cases: KTAP lines at depth one, under their suite."""
    suite = None
    for raw in lines:
        if not TIMESTAMP.match(raw):
            continue
        line = TIMESTAMP.sub('', raw)
        m = TAP.match(line)
        if m and tap_status(m) == 'fail':
            yield 'kunit suite %s' % m.group(3), 'fail', 'suite failed'
            continue
        m = re.match(r'^    # Subtest: (\S+)', line)
        if m:
            suite = m.group(1)
            continue
        m = TAP.match(line[4:]) if line.startswith('    ') else None
        if m and suite and not line.startswith('     '):
            yield ('kunit %s.%s' % (suite, m.group(3)), tap_status(m),
                   (m.group(6) or '').strip())


def splats(lines):
    # Kernel messages carry a timestamp (PRINTK_TIME); test output does not.
    for line in lines:
        if TIMESTAMP.match(line) and SPLATS.search(line):
            yield line


def read_expected(path, impl):
    """(regex, reason) pairs of a list of expected skips or failures."""
    expected = []
    for line in read(path):
        if line.strip() and not line.startswith('#'):
            pat, _, why = line.partition('\t')
            scope, colon, rest = pat.partition(':')
            if colon and scope in ('ours', 'upstream'):
                if scope != impl:
                    continue
                pat = rest
            expected.append((re.compile(pat.strip()), why.strip()))
    return expected


def main():
    console, results, skips_file = sys.argv[1:4]
    tap_out = sys.argv[4] if len(sys.argv) > 4 else None
    impl = sys.argv[5] if len(sys.argv) > 5 else 'ours'
    expected = read_expected(skips_file, impl)
    xfails = read_expected(os.path.join(os.path.dirname(skips_file),
                                        'expected-failures'), impl)

    clines = read(console)
    everything = list(selftest_results(read(results))) + list(kunit_results(clines))
    passed = failed = skipped = xfailed = 0
    tap = ['TAP version 13', '1..%d' % (len(everything) + 1)]
    for i, (name, status, detail) in enumerate(everything, 1):
        if status == 'skip':
            why = next((w for p, w in expected if p.search(name)), None)
            if why is None:
                status, detail = 'fail', 'unexpected skip: ' + detail
            else:
                detail = 'expected skip: ' + why
        if status == 'fail':
            why = next((w for p, w in xfails if p.search(name)), None)
            if why is not None:
                status = 'xfail'
                detail = 'expected failure: %s%s' % (why, '; ' + detail if detail else '')
        if status == 'pass':
            passed += 1
        elif status == 'skip':
            skipped += 1
        elif status == 'xfail':
            xfailed += 1
        else:
            failed += 1
        print('%-4s %s%s' % (status.upper(), name, ' (%s)' % detail if detail else ''))
        directive = {'skip': ' # SKIP ' + detail, 'xfail': ' # XFAIL ' + detail}
        tap.append('%s %d %s%s' % ('not ok' if status in ('fail', 'xfail') else 'ok',
                                   i, name, directive.get(status, '')))

    bad = list(splats(clines))
    if bad:
        failed += 1
        print('FAIL kernel log: %d splat line(s), first: %s' % (len(bad), bad[0]))
    elif not any(ln.startswith('KSM-HARNESS-EXIT') for ln in clines):
        failed += 1
        bad = ['guest did not finish']
        print('FAIL kernel log: guest did not finish')
    else:
        passed += 1
        print('PASS kernel log: no BUG, WARNING, KASAN, lockdep or Call Trace')
    tap.append('%s %d kernel log clean' % ('not ok' if bad else 'ok', len(everything) + 1))
    if tap_out:
        with open(tap_out, 'w') as f:
            f.write('\n'.join(tap) + '\n')

    line = '%d passed, %d failed' % (passed, failed)
    if skipped:
        line += ', %d skipped' % skipped
    if xfailed:
        line += ', %d expected failures' % xfailed
    print(line)
    return 1 if failed or not everything else 0


sys.exit(main())
