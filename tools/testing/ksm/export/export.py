#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""export.py REPO BUILD: the series as upstream receives it.

Cut the overlay, the quilt series, the removals and the MAINTAINERS entry
of REPO into the patches that tools/testing/ksm/export/split describes,
commit them one by one on a git repository of the pristine 6.12 tree
(BUILD/src/series, made once from Debian's linux-source tarball), and
write them with "git format-patch" and a cover letter to BUILD/export.
Fails, naming every problem, when the split and the repository disagree:
a file, series entry or removal claimed by no patch or by two, a path
that matches nothing, a patch that changes nothing.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time

OVERLAY_DIRS = ('mm', 'include', 'Documentation', 'tools')
TARBALL = '/usr/src/linux-source-6.12.tar.xz'
HERE = os.path.dirname(os.path.abspath(__file__))
# Commits carry fixed dates, so that the same repository state exports to
# the same files.
DATE = '2024-11-17T00:00:00+00:00'
COLS = 72


def die(*msgs):
    for m in msgs:
        print('export: %s' % m, file=sys.stderr)
    sys.exit(1)


def git(tree, *args, env=None, stdin=None):
    r = subprocess.run(('git', '-C', tree) + args, env=env, input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode:
        die('git %s failed:' % ' '.join(args), r.stderr.strip())
    return r.stdout


def listed(path):
    """Lines of a list file, comments and blank lines aside."""
    try:
        with open(path) as f:
            lines = [ln.strip() for ln in f]
    except FileNotFoundError:
        return []
    return [ln for ln in lines if ln and not ln.startswith('#')]


def overlay_files(repo):
    """The overlay as prepare-tree.sh copies it: tracked and untracked,
    not ignored, existing files under the overlay directories."""
    out = git(repo, 'ls-files', '--cached', '--others', '--exclude-standard',
              '--', *OVERLAY_DIRS)
    return sorted({f for f in out.splitlines() if os.path.isfile(os.path.join(repo, f))})


def parse_split(path):
    """Stanzas of "key: value" lines, values continued by indented lines."""
    stanzas, cur, key = [], {}, None
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip('\n')
            if line.startswith('#'):
                continue
            if not line.strip():
                if cur:
                    stanzas.append(cur)
                cur, key = {}, None
            elif line[0] in ' \t':
                if key is None:
                    die('%s:%d: continuation line without a key' % (path, n))
                text = line.strip()
                cur[key] += '\n' + ('' if text == '.' else text)
            else:
                key, sep, value = line.partition(':')
                if not sep or key in cur:
                    die('%s:%d: expected a new "key: value"' % (path, n))
                cur[key] = value.strip()
    if cur:
        stanzas.append(cur)
    return stanzas


def glob_re(pattern):
    out = ''
    for part in re.split(r'(\*\*|\*|\?)', pattern):
        out += {'**': '.*', '*': '[^/]*', '?': '[^/]'}.get(part, re.escape(part))
    return re.compile(out + '$')


def is_glob(pattern):
    return any(c in pattern for c in '*?')


def claim(stanzas, files, series, removals):
    """Give each file, series entry and removal its stanza."""
    errors = []
    owner = {}
    # Paths first: a named path wins over any glob.
    for pass_globs in (False, True):
        for i, st in enumerate(stanzas):
            for pat in (st.get('files') or st.get('local') or '').split():
                if is_glob(pat) != pass_globs:
                    continue
                if pass_globs:
                    hits = [f for f in files if glob_re(pat).match(f)]
                else:
                    hits = [pat] if pat in files else []
                if not hits:
                    errors.append('split: "%s" matches no file of the overlay' % pat)
                for f in hits:
                    if f not in owner:
                        owner[f] = (i, pat)
                    elif owner[f][0] != i and is_glob(owner[f][1]) == pass_globs:
                        errors.append('split: %s claimed by both "%s" and "%s"' %
                                      (f, owner[f][1], pat))
    for f in files:
        if f not in owner:
            errors.append('%s is not in the split: give it a patch or a "local" '
                          'stanza in tools/testing/ksm/export/split' % f)
    st_files = [[] for _ in stanzas]
    for f, (i, _) in sorted(owner.items()):
        st_files[i].append(f)

    for key, entries, what in (('quilt', series, 'series entry'),
                               ('remove', removals, 'removal')):
        seen = {}
        for i, st in enumerate(stanzas):
            for e in st.get(key, '').split():
                if e not in entries:
                    errors.append('split: %s "%s" is not in %s' %
                                  (what, e, 'series' if key == 'quilt' else 'removals'))
                elif e in seen:
                    errors.append('split: %s "%s" claimed twice' % (what, e))
                seen[e] = i
        for e in entries:
            if e not in seen:
                errors.append('%s "%s" is not in the split' % (what, e))
    if sum(st.get('maintainers') == 'yes' for st in stanzas) != 1:
        errors.append('split: exactly one patch must say "maintainers: yes"')
    return st_files, errors


def header_summary(path):
    """First sentence of the header comment of a C file, or None."""
    with open(path) as f:
        lines = f.read().split('\n')[:12]
    try:
        start = next(i for i, ln in enumerate(lines)
                     if ln.strip() == '/*' and 'SPDX' not in ln)
    except StopIteration:
        return None
    words = []
    for ln in lines[start + 1:]:
        text = ln.strip().lstrip('*').strip()
        if not text or ln.strip().startswith('*/'):
            break
        words.append(text)
    para = ' '.join(words)
    m = re.search(r'\.(\s|$)', para)
    return para[:m.start() + 1] if m else para + '.'


def file_list(repo, files):
    out = []
    for f in files:
        if not f.endswith(('.c', '.h')):
            continue
        s = header_summary(os.path.join(repo, f))
        if s:
            out += textwrap.wrap('%s: %s' % (f, s), COLS, initial_indent='- ',
                                 subsequent_indent='  ', break_on_hyphens=False)
    return out


def quilt_header(path):
    """Subject and body of a quilt patch (everything before its diff)."""
    subject, body = None, []
    with open(path) as f:
        for line in f:
            line = line.rstrip('\n')
            if line == '---' or line.startswith(('--- ', 'diff ', 'Index: ')):
                break
            if subject is None and line.startswith('Subject:'):
                subject = line[len('Subject:'):].strip()
            elif subject is not None:
                body.append(line)
    if not subject:
        die('%s: no "Subject:" line in its header' % path)
    return subject, '\n'.join(body).strip('\n')


def commit_message(repo, st, files, author):
    if 'subject' in st:
        subject = st['subject']
        body = []
        for line in st.get('message', '').split('\n'):
            body += file_list(repo, files) if line == '@files@' else [line]
        body = '\n'.join(body).strip('\n')
    else:
        quilt = st.get('quilt', '').split()
        if len(quilt) != 1:
            die('split: a patch without "subject" needs exactly one quilt patch')
        subject, body = quilt_header(os.path.join(repo, 'patches', quilt[0]))
    sob = 'Signed-off-by: %s' % author
    if sob not in body.split('\n'):
        body += '\n\n' + sob
    return '%s\n\n%s\n' % (subject, body.strip('\n'))


def ensure_base(build):
    """BUILD/src/series: the pristine tree in git, tagged "base"."""
    tree = os.path.join(build, 'src', 'series')
    st = os.stat(TARBALL)
    stamp = '%s %d %d' % (TARBALL, st.st_size, int(st.st_mtime))
    stamp_file = os.path.join(tree, '.git', 'ksm-base')
    try:
        with open(stamp_file) as f:
            if f.read().strip() == stamp:
                return tree
    except FileNotFoundError:
        pass
    print('export: making a git repository of %s in %s' % (TARBALL, tree))
    os.makedirs(os.path.join(build, 'src'), exist_ok=True)
    tmp = tempfile.mkdtemp(dir=os.path.join(build, 'src'), prefix='.series.')
    subprocess.run(['tar', '-xJf', TARBALL, '-C', tmp], check=True)
    top, = os.listdir(tmp)
    shutil.rmtree(tree, ignore_errors=True)
    os.rename(os.path.join(tmp, top), tree)
    os.rmdir(tmp)
    env = identity_env('Linux 6.12 <linux-kernel@vger.kernel.org>')
    git(tree, 'init', '-q')
    git(tree, 'add', '-f', '-A')
    git(tree, 'commit', '-q', '-m', 'Linux %s' % kernel_version(tree), env=env)
    git(tree, 'tag', '-f', 'base')
    with open(stamp_file, 'w') as f:
        f.write(stamp + '\n')
    return tree


def kernel_version(tree):
    return subprocess.run(['make', '-s', '-C', tree, 'kernelversion'], check=True,
                          stdout=subprocess.PIPE, text=True).stdout.strip()


def identity_env(who):
    name, email = re.match(r'(.*?)\s*<(.*)>', who).groups()
    env = dict(os.environ)
    for role in ('AUTHOR', 'COMMITTER'):
        env['GIT_%s_NAME' % role] = name
        env['GIT_%s_EMAIL' % role] = email
        env['GIT_%s_DATE' % role] = DATE
    return env


def apply_stanza(repo, tree, st, files):
    for f in files:
        dst = os.path.join(tree, f)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(os.path.join(repo, f), dst)
    if files:
        git(tree, 'add', '-f', '--', *files)
    for p in st.get('quilt', '').split():
        with open(os.path.join(repo, 'patches', p)) as f:
            r = subprocess.run(['git', '-C', tree, 'apply', '--index', '-'], stdin=f,
                               stderr=subprocess.PIPE, text=True)
        if r.returncode:
            die('patches/%s does not apply:' % p, r.stderr.strip())
    removals = st.get('remove', '').split()
    if removals:
        git(tree, 'rm', '-q', '--', *removals)
    if st.get('maintainers') == 'yes':
        subprocess.run([sys.executable, os.path.join(HERE, '..', 'maintainers.py'),
                        os.path.join(tree, 'MAINTAINERS'),
                        os.path.join(repo, 'MAINTAINERS.fragment'),
                        os.path.join(tree, 'MAINTAINERS')], check=True)
        git(tree, 'add', 'MAINTAINERS')


def bench_table(build):
    """The figures of the last "make bench", as text for the cover letter."""
    path = os.path.join(build, 'bench', 'results.json')
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return ('No benchmark was run for this export (make bench writes\n'
                'build/bench/results.json, which the cover letter quotes).')
    rows = [('workload', 'figure', 'unit', 'ours', '6.12', 'ratio')]
    skipped = []
    for r in doc.get('results', []):
        if 'skipped' in r:
            skipped.append('%s %s (%s)' % (r['workload'], r['figure'], r['skipped']))
            continue
        ours, up = r.get('ours') or {}, r.get('upstream') or {}
        ratio = r.get('ratio')
        rows.append((r['workload'], r['figure'], r['unit'],
                     '%.4g' % ours['median'] if ours else '-',
                     '%.4g' % up['median'] if up else '-',
                     '%.2f' % ratio if ratio is not None else '-'))
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = ['  '.join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
             for row in rows]
    notes = ['Ratio = ours / 6.12, from the make bench of %s: %s round(s) per kernel (%s).' %
             (time.strftime('%Y-%m-%d', time.gmtime(os.path.getmtime(path))),
              doc.get('rounds', '?'), doc.get('order', '?'))]
    if doc.get('sizes'):
        notes.append('Sizes: %s.' % doc['sizes'])
    if skipped:
        notes.append('Skipped: %s.' % '; '.join(skipped))
    lines.append('')
    lines += textwrap.wrap(' '.join(notes), COLS)
    return '\n'.join(lines)


def cover_letter(build, first):
    with open(os.path.join(HERE, 'cover-letter')) as f:
        subject, _, body = f.read().partition('\n\n')
    subject = subject.replace('Subject:', '').strip()
    body = body.rstrip('\n').replace('@bench@', bench_table(build))
    with open(first) as f:
        text = f.read()
    text = text.replace('*** SUBJECT HERE ***', subject)
    text = text.replace('*** BLURB HERE ***', body)
    with open(first, 'w') as f:
        f.write(text)


def main():
    repo, build = (os.path.abspath(a) for a in sys.argv[1:3])
    split = os.path.join(HERE, 'split')
    stanzas = parse_split(split)
    head, stanzas = stanzas[0], stanzas[1:]
    author = head.get('author') or die('split: the first stanza must give "author:"')
    series = listed(os.path.join(repo, 'series'))
    unused = sorted(set(os.listdir(os.path.join(repo, 'patches'))) - set(series))
    files = overlay_files(repo)
    st_files, errors = claim(stanzas, files, series, listed(os.path.join(repo, 'removals')))
    errors += ['patches/%s is not in series' % p for p in unused]
    if errors:
        die(*errors)

    tree = ensure_base(build)
    git(tree, 'checkout', '-q', '-f', '-B', 'series', 'base')
    git(tree, 'clean', '-q', '-f', '-d', '-x')
    env = identity_env(author)
    local = []
    for st, fs in zip(stanzas, st_files):
        if 'local' in st:
            local += fs
            continue
        apply_stanza(repo, tree, st, fs)
        msg = commit_message(repo, st, fs, author)
        if not git(tree, 'status', '--porcelain', '--untracked-files=no').strip():
            die('"%s" changes nothing' % msg.split('\n')[0])
        git(tree, 'commit', '-q', '-F', '-', env=env, stdin=msg)

    out = os.path.join(build, 'export')
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    names = git(tree, 'format-patch', '--cover-letter', '--no-signature',
                '-o', out, 'base..series', env=env).split()
    cover_letter(build, names[0])
    # For export-check: the files that stay out of the series.
    with open(os.path.join(out, '.local'), 'w') as f:
        f.write(''.join(p + '\n' for p in local))
    print('export: %d patches and a cover letter in %s (on Linux %s)' %
          (len(names) - 1, os.path.relpath(out), kernel_version(tree)))


if __name__ == '__main__':
    main()
