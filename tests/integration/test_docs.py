# SPDX-License-Identifier: MIT
"""Docs that cannot drift: the configuration keys in src/conf.c, in
doc/restanza.conf.5 and in contrib/restanza.conf.example are the same set;
every metric family the sources emit is described in restanza(8) and every
metric name the Markdown docs cite exists; README's source tree lists
exactly the files in src/, each with a role; no function in src/ is longer
than about 80 lines (tests/funclen.py). Needs no XMPP server and no
daemon."""

import glob
import os
import re
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests"))

import funclen  # noqa: E402


def read(*parts):
    with open(os.path.join(REPO, *parts), encoding="utf-8") as f:
        return f.read()


def code_conf_keys():
    """section.key for every entry of the keys[] table in src/conf.c."""
    text = read("src", "conf.c")
    keys = set(re.findall(r'\.section\s*=\s*"(\w+)",\s*\.name\s*=\s*"(\w+)"',
                          text))
    assert len(keys) > 20, "the keys[] table of src/conf.c was not found"
    return {"%s.%s" % k for k in keys}


def manpage_conf_keys():
    """section.key for every '.TP' + '.B key' under a '.SS [section]'."""
    keys, section, after_tp = set(), None, False
    for line in read("doc", "restanza.conf.5").splitlines():
        m = re.match(r'^\.SS \[(\w+)\]', line)
        if m:
            section = m.group(1)
            continue
        if line.startswith(".SH"):
            section = None
        if line == ".TP":
            after_tp = True
            continue
        if after_tp and section:
            # ".B key" or ".BR key " / " key_file" (or " or ")
            m = re.match(r'^\.BR? (\w+)(?: " (?:/|or) " (\w+))?$', line)
            if m:
                for name in m.groups():
                    if name:
                        keys.add("%s.%s" % (section, name))
        after_tp = False
    return keys


def example_conf_keys():
    """section.key for every 'key =' line, commented out or not."""
    keys, section = set(), None
    for line in read("contrib", "restanza.conf.example").splitlines():
        m = re.match(r'^\[(\w+)\]', line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r'^#?(\w+) = ', line)
        if m and section:
            keys.add("%s.%s" % (section, m.group(1)))
    return keys


def test_conf_keys_agree_between_code_manpage_and_example():
    code = code_conf_keys()
    man = manpage_conf_keys()
    example = example_conf_keys()
    missing = sorted(code - man)
    assert not missing, "keys missing from restanza.conf.5" + ": " + ", ".join(missing)
    missing = sorted(man - code)
    assert not missing, "restanza.conf.5 documents unknown keys" + ": " + ", ".join(missing)
    missing = sorted(code - example)
    assert not missing, "keys missing from contrib/restanza.conf.example" + ": " + ", ".join(missing)
    missing = sorted(example - code)
    assert not missing, "contrib/restanza.conf.example has unknown keys" + ": " + ", ".join(missing)


def code_metric_families():
    names = set()
    for path in glob.glob(os.path.join(REPO, "src", "*.c")):
        with open(path, encoding="utf-8") as f:
            names |= set(re.findall(r'# TYPE (restanza_\w+) ', f.read()))
    assert len(names) > 10, "no '# TYPE restanza_...' lines found in src/"
    return names


def test_every_metric_family_is_described_in_restanza_8():
    page = read("doc", "restanza.8")
    section = page.split(".SS GET /metrics", 1)[1].split("\n.S", 1)[0]
    documented = set(re.findall(r'^\.BR? (restanza_\w+)', section, re.M))
    code = code_metric_families()
    missing = sorted(code - documented)
    assert not missing, "metric families missing from restanza.8 (GET /metrics)" + ": " + ", ".join(missing)
    missing = sorted(documented - code)
    assert not missing, "restanza.8 describes metrics the code does not emit" + ": " + ", ".join(missing)


def test_metric_names_cited_in_markdown_docs_exist():
    code = code_metric_families()
    for path in [os.path.join(REPO, "README")] + \
            glob.glob(os.path.join(REPO, "doc", "*.md")):
        with open(path, encoding="utf-8") as f:
            cited = re.findall(r'`(restanza_\w+)', f.read())
        for name in cited:
            base = re.sub(r'_(sum|count|bucket)$', '', name)
            if name.endswith("_{sum,count}") or base.endswith("_"):
                base = base.rstrip("_")
            assert name in code or base in code, \
                "%s cites %s, which the code does not emit" % (
                    os.path.relpath(path, REPO), name)


def test_readme_source_tree_lists_exactly_the_files_in_src():
    readme = read("README")
    tree = readme.split("## Source tree", 1)[1]
    listed = set()
    for stem, exts in re.findall(r'^\s+src/(\w+)\.(\[ch\]|c|h)\s', tree,
                                 re.M):
        for ext in ("c", "h") if exts == "[ch]" else (exts,):
            listed.add("%s.%s" % (stem, ext))
    # One line stands for every module's test-only header.
    if re.search(r'^\s+src/\*_priv\.h\s', tree, re.M):
        listed |= {os.path.basename(p) for p in
                   glob.glob(os.path.join(REPO, "src", "*_priv.h"))}
    actual = {os.path.basename(p)
              for p in glob.glob(os.path.join(REPO, "src", "*.[ch]"))}
    missing = sorted(actual - listed)
    assert not missing, "files in src/ missing from README" + ": " + ", ".join(missing)
    missing = sorted(listed - actual)
    assert not missing, "README lists files not in src/" + ": " + ", ".join(missing)
    # Every entry says in one line what the file is for.
    bare = re.findall(r'^\s+(src/\S+)[ \t]*$', tree, re.M)
    assert not bare, "README lists src/ files without a role: " + ", ".join(bare)


def test_no_function_in_src_is_over_80_lines():
    found = funclen.functions(read("src", "httpd.c"))
    assert len(found) > 15, "funclen.py found no functions in src/httpd.c"
    bad = funclen.over(sorted(glob.glob(os.path.join(REPO, "src", "*.c"))))
    assert not bad, "functions over 80 lines:\n" + "\n".join(bad)


def test_the_length_check_catches_a_long_function(tmp_path):
    body = "".join("    x += %d;\n" % i for i in range(79))
    short = ("static const char *f(int x)\n{\n%s    return \"\";\n}\n" %
             body[:70 * 12])
    long_ = ("int\nlong_one(const char *a,\n         int b)\n{\n%s"
             "    return b;\n}\n" % body)
    path = tmp_path / "x.c"
    path.write_text(short + "\n" + long_)
    bad = funclen.over([str(path)])
    assert len(bad) == 1 and "long_one is 84 lines" in bad[0], bad
