#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""rst-check.py FILE...: parse kernel documentation with docutils.

Reads each reStructuredText FILE as Sphinx would, with the roles and
directives that Sphinx and the kernel's extensions add known by name (and
taken at face value), and prints every problem docutils reports at
warning level or above: malformed markup, broken section structure,
unknown roles or directives, dangling references to targets of the same
file.  Exits 1 if there was any.  Debian's python3-docutils, hence
/usr/bin/python3.
"""
import io
import re
import sys

from docutils import nodes
from docutils.core import publish_doctree
from docutils.parsers.rst import Directive, directives, roles

SPHINX_ROLES = (
    'abbr', 'any', 'command', 'dfn', 'doc', 'envvar', 'file', 'guilabel',
    'kbd', 'keyword', 'manpage', 'menuselection', 'mimetype', 'numref',
    'option', 'program', 'ref', 'regexp', 'samp', 'term',
    'c:data', 'c:enum', 'c:enumerator', 'c:expr', 'c:func', 'c:macro',
    'c:member', 'c:struct', 'c:texpr', 'c:type', 'c:union', 'c:var',
)
SPHINX_DIRECTIVES = (
    'c:function', 'c:macro', 'c:member', 'c:struct', 'c:type', 'c:union',
    'c:var', 'code-block', 'deprecated', 'glossary', 'highlight', 'index',
    'kernel-abi', 'kernel-doc', 'kernel-feat', 'kernel-include',
    'literalinclude', 'only', 'productionlist', 'seealso', 'sectionauthor',
    'tabularcolumns', 'toctree', 'versionadded', 'versionchanged',
    'flat-table', 'cssclass',
)


def sphinx_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    return [nodes.literal(rawtext, text)], []


class AnyOptions(dict):
    """Whatever option a Sphinx directive gets is accepted as text."""

    def __contains__(self, key):
        return True

    def __getitem__(self, key):
        return directives.unchanged


class SphinxDirective(Directive):
    optional_arguments = 10
    final_argument_whitespace = True
    has_content = True
    option_spec = AnyOptions()

    def run(self):
        return []


def main():
    for name in SPHINX_ROLES:
        roles.register_local_role(name, sphinx_role)
    for name in SPHINX_DIRECTIVES:
        directives.register_directive(name, SphinxDirective)
    problems = 0
    for path in sys.argv[1:]:
        with open(path) as f:
            text = f.read()
        stream = io.StringIO()
        publish_doctree(text, source_path=path, settings_overrides={
            'report_level': 2, 'halt_level': 5, 'warning_stream': stream,
            'file_insertion_enabled': False, 'raw_enabled': False})
        found = [ln for ln in stream.getvalue().splitlines()
                 if re.search(r'\((WARNING|ERROR|SEVERE)/\d\)', ln)]
        for ln in stream.getvalue().splitlines():
            print(ln)
        problems += len(found)
    sys.exit(1 if problems else 0)


if __name__ == '__main__':
    main()
