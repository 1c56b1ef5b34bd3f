# SPDX-License-Identifier: MIT
"""debian/: dpkg-buildpackage builds restanza_*.deb from a copy of the
tree; lintian has nothing to say; the package installs on this machine,
creates its user and an empty secret, `restanza --check-config` refuses
the empty secret and accepts a written one, and purge removes what the
package made. Needs root (tests/run.sh runs as root) and debhelper,
dpkg-dev and lintian (in tests/run.sh's package list)."""

import grp
import os
import pwd
import shutil
import stat
import subprocess
import time

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VERSION = "0.1.0-1"
SECRET = "/etc/restanza/component.secret"
CONF = "/etc/restanza/restanza.conf"


def need(tool, package):
    if shutil.which(tool) is None:
        pytest.fail("%s is missing: install the Debian package %s "
                    "(tests/run.sh does)" % (tool, package))


def run(cmd, timeout=60, **kw):
    return subprocess.run(cmd, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, **kw)


def copy_tree(dst):
    """The source files of the checkout (no build products) into dst."""
    if os.path.isdir(os.path.join(REPO, ".git")):
        files = run(["git", "-C", REPO, "ls-files", "-co",
                     "--exclude-standard"]).stdout.split("\n")
        for f in filter(None, files):
            src = os.path.join(REPO, f)
            if os.path.isfile(src):
                os.makedirs(os.path.join(dst, os.path.dirname(f)),
                            exist_ok=True)
                shutil.copy2(src, os.path.join(dst, f))
    else:
        shutil.copytree(REPO, dst, dirs_exist_ok=True, ignore=(
            shutil.ignore_patterns("build", ".git", "__pycache__",
                                   ".pytest_cache", "autom4te.cache")))


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """Build once: {"deb": path, "changes": path, "dir": build dir}."""
    need("dpkg-buildpackage", "dpkg-dev")
    need("dh", "debhelper")
    top = tmp_path_factory.mktemp("package")
    src = top / "restanza"
    copy_tree(str(src))
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck parallel=%d"
               % (os.cpu_count() or 1))
    t0 = time.monotonic()
    p = run(["dpkg-buildpackage", "-us", "-uc", "-b"], timeout=900,
            cwd=str(src), env=env)
    print("dpkg-buildpackage: exit %d in %.0f s" % (
        p.returncode, time.monotonic() - t0))
    assert p.returncode == 0, (p.stdout + p.stderr)[-4000:]
    deb = top / ("restanza_%s_amd64.deb" % VERSION)
    changes = top / ("restanza_%s_amd64.changes" % VERSION)
    assert deb.is_file(), sorted(os.listdir(str(top)))
    return {"deb": str(deb), "changes": str(changes), "dir": str(top)}


def test_package_has_binary_man_pages_unit_and_conffile(package):
    listing = run(["dpkg-deb", "-c", package["deb"]]).stdout
    for path in ("./usr/sbin/restanza", "./usr/share/man/man8/restanza.8.gz",
                 "./usr/share/man/man5/restanza.conf.5.gz",
                 "./etc/restanza/restanza.conf",
                 "./lib/systemd/system/restanza.service",
                 "./usr/share/doc/restanza/README.Debian",
                 "./usr/share/doc/restanza/examples/restanza.rules.yml",
                 "./usr/share/doc/restanza/examples/restanza.json"):
        assert " " + path + "\n" in listing, path + " not in\n" + listing
    info = run(["dpkg-deb", "-I", package["deb"], "conffiles"]).stdout
    assert info.split() == [CONF], info
    depends = run(["dpkg-deb", "-f", package["deb"], "Depends"]).stdout
    for lib in ("adduser", "libstrophe0", "libjson-c5", "libmicrohttpd12",
                "libcurl4"):
        assert lib in depends, depends


def test_lintian_reports_nothing(package):
    need("lintian", "lintian")
    # Every remaining tag is overridden with its reason in
    # debian/restanza.lintian-overrides.
    p = run(["lintian", "--pedantic", "--info", "--fail-on",
             "error,warning,info,pedantic", package["changes"]], timeout=300)
    print("lintian:\n" + p.stdout)
    tags = [ln for ln in p.stdout.splitlines() if ln[:2] in
            ("E:", "W:", "I:", "P:", "X:")]
    assert p.returncode == 0 and not tags, p.stdout + p.stderr


def dpkg(*args):
    """dpkg with retries while another dpkg holds the lock."""
    deadline = time.monotonic() + 300
    while True:
        p = run(["dpkg"] + list(args), timeout=300,
                env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        if "lock" not in p.stderr or time.monotonic() > deadline:
            return p
        time.sleep(1)


def test_package_installs_checks_config_and_purges(package):
    if os.geteuid() != 0:
        pytest.fail("installing the package needs root (tests/run.sh runs "
                    "as root)")
    # A leftover of an interrupted run of this test.
    if run(["dpkg", "-s", "restanza"]).returncode == 0:
        dpkg("--purge", "restanza")
    p = dpkg("-i", package["deb"])
    assert p.returncode == 0, p.stdout + p.stderr
    try:
        user = pwd.getpwnam("_restanza")
        assert user.pw_dir == "/var/lib/restanza"
        st = os.stat(SECRET)
        assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                st.st_size) == (0o640, 0, grp.getgrnam("_restanza").gr_gid, 0)
        # An unconfigured secret: refused (and the unit is skipped).
        p = run(["/usr/sbin/restanza", "--check-config"])
        assert p.returncode == 1, p
        assert "%s:" % CONF in p.stderr and "is empty" in p.stderr, p.stderr
        with open(SECRET, "w") as f:
            f.write("the-component-secret\n")
        p = run(["/usr/sbin/restanza", "--check-config"])
        assert (p.returncode, p.stdout) == (
            0, "configuration OK: %s\n" % CONF), p
        # The service's user can read what the unit runs it with.
        p = run(["runuser", "-u", "_restanza", "--", "/usr/sbin/restanza",
                 "--check-config", "-c", CONF])
        assert p.returncode == 0, p
        assert run(["/usr/sbin/restanza", "--version"]).stdout == \
            "restanza 0.1.0\n"
        unit = open("/lib/systemd/system/restanza.service").read()
        for line in ("User=_restanza", "StateDirectory=restanza",
                     "ConditionFileNotEmpty=" + SECRET,
                     "ExecStart=/usr/sbin/restanza -f -c " + CONF):
            assert line + "\n" in unit, line
        if shutil.which("systemd-analyze"):
            p = run(["systemd-analyze", "verify",
                     "/lib/systemd/system/restanza.service"])
            bad = [ln for ln in (p.stdout + p.stderr).splitlines()
                   if "Unknown" in ln or "Invalid" in ln or
                   "not executable" in ln or "Failed to parse" in ln]
            assert not bad, p.stdout + p.stderr
        # Reinstalling keeps the administrator's secret and conffile.
        p = dpkg("-i", package["deb"])
        assert p.returncode == 0, p.stdout + p.stderr
        assert open(SECRET).read() == "the-component-secret\n"
        os.makedirs("/var/lib/restanza", exist_ok=True)
    finally:
        p = dpkg("--purge", "restanza")
    assert p.returncode == 0, p.stdout + p.stderr
    for path in ("/usr/sbin/restanza", "/etc/restanza", "/var/lib/restanza"):
        assert not os.path.exists(path), path + " left after purge"
