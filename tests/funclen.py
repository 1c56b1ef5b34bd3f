#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""funclen.py: list the C functions longer than a limit (house style: about
80 lines). A function runs from the line of its name to its closing brace
in column 0. Usage: funclen.py [-n LIMIT] FILE...; exit 1 when one is over.
"""
import re
import sys

LIMIT = 80

# A definition: a line in column 0 that names a function and does not end
# with ';' (prototypes do), followed by '{' in column 0 (Linux style).
NAME_RE = re.compile(r'^(?:[A-Za-z_][\w \*]*?\b)?(\w+)\(')


def functions(text):
    """(name, first line, line count) for every function in text."""
    lines = text.split('\n')
    found = []
    i = 0
    while i < len(lines):
        m = NAME_RE.match(lines[i])
        if m and not lines[i].rstrip().endswith(';') and \
                '=' not in lines[i][:m.end()] and \
                not lines[i].startswith(('typedef', '#')):
            j = i
            while j < len(lines) and lines[j] != '{' and \
                    not lines[j].rstrip().endswith(';'):
                j += 1
            if j < len(lines) and lines[j] == '{':
                k = j + 1
                while k < len(lines) and lines[k] != '}':
                    k += 1
                found.append((m.group(1), i + 1, k - i + 1))
                i = k
        i += 1
    return found


def over(paths, limit=LIMIT):
    """'path:line: name is N lines' for each function over limit."""
    out = []
    for path in paths:
        with open(path) as f:
            for name, line, n in functions(f.read()):
                if n > limit:
                    out.append('%s:%d: %s is %d lines (limit %d)' %
                               (path, line, name, n, limit))
    return out


def main(argv):
    limit = LIMIT
    if len(argv) > 2 and argv[1] == '-n':
        limit = int(argv[2])
        argv = argv[2:]
    bad = over(argv[1:], limit)
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
