#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""maintainers.py BASE FRAGMENT OUT: insert the entry of FRAGMENT into the
MAINTAINERS file BASE, in alphabetical order, writing OUT only if it
changes.  An entry of the same title in BASE is replaced."""
import sys

FIELDS = ('M:', 'R:', 'L:', 'S:', 'W:', 'F:', 'T:', 'Q:', 'B:', 'C:', 'P:', 'K:', 'N:', 'X:')


def main():
    base, frag, out = sys.argv[1:4]
    lines = open(base).read().split('\n')
    entry = open(frag).read().strip('\n').split('\n')
    title = entry[0]
    start = lines.index('Maintainers List') if 'Maintainers List' in lines else 0

    def is_title(i):
        return (i > start and lines[i - 1] == '' and lines[i] and
                i + 1 < len(lines) and lines[i + 1][:2] in FIELDS)

    def entry_end(i):
        while i < len(lines) and lines[i] != '':
            i += 1
        return i + 1

    titles = [i for i in range(len(lines)) if is_title(i)]
    for i in titles:
        if lines[i] == title:
            del lines[i:entry_end(i)]
            titles = [i for i in range(len(lines)) if is_title(i)]
            break
    # The file is sorted but for a few misplaced entries: follow the
    # greatest title that sorts before ours.
    before = [i for i in titles if lines[i] < title]
    if not before:
        sys.exit('maintainers: no place found for %s' % title)
    at = entry_end(max(before, key=lambda i: lines[i]))
    lines[at:at] = entry + ['']
    text = '\n'.join(lines)
    try:
        if open(out).read() == text:
            return
    except FileNotFoundError:
        pass
    open(out, 'w').write(text)


main()
