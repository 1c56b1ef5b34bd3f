# SPDX-License-Identifier: MIT
"""test_config_cli.py: `restanza --check-config` reports config problems as FILE:LINE: message."""
import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "unit" / "data"
BIN = os.environ.get("RESTANZA_BIN", str(REPO / "src" / "restanza"))
GOOD = sorted(DATA.glob("conf-good-*.conf"))
BAD = sorted(DATA.glob("conf-bad-*.conf"))
BASE = (
    "[server]\ndomain = example.org\n"
    "[component]\njid = rest.example.org\n"
)

pytestmark = pytest.mark.skipif(
    not os.access(BIN, os.X_OK), reason=f"{BIN} is not built (set RESTANZA_BIN)"
)


def check_config(path):
    """Run `restanza --check-config -c path`; return (status, output lines)."""
    proc = subprocess.run(
        [BIN, "--check-config", "-c", str(path)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
    )
    output = (proc.stdout + proc.stderr).decode("utf-8", errors="replace")
    return proc.returncode, output.splitlines()


def problems(path, lines):
    """The lines that report a problem in path."""
    return [line for line in lines if line.startswith(f"{path}:")]


def expectations(path):
    """The `# expect: LINE: message` comments of a data file, as output lines."""
    tag = b"# expect: "
    return [
        f"{path}:{line[len(tag):].decode()}"
        for line in path.read_bytes().split(b"\n")
        if line.startswith(tag)
    ]


def test_there_are_at_least_12_kinds_of_bad_config():
    assert len(BAD) >= 12
    assert len(GOOD) >= 1


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_good_config_exits_0_without_problems(path):
    status, lines = check_config(path)
    assert status == 0, lines
    assert problems(path, lines) == []


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_bad_config_exits_1_and_reports_file_line_message(path):
    expected = expectations(path)
    assert expected, f"{path.name} has no '# expect:' comment"
    status, lines = check_config(path)
    assert status == 1, lines
    assert problems(path, lines) == expected


def test_missing_file_cannot_be_read(tmp_path):
    path = tmp_path / "absent.conf"
    status, lines = check_config(path)
    assert status == 1
    assert problems(path, lines) == [
        f"{path}:0: cannot read: No such file or directory"
    ]


def test_directory_cannot_be_read(tmp_path):
    status, lines = check_config(tmp_path)
    assert status == 1
    assert problems(tmp_path, lines) == [f"{tmp_path}:0: cannot read: Is a directory"]


def test_file_over_1_mib_is_refused(tmp_path):
    path = tmp_path / "big.conf"
    filler = ("#" * 1023 + "\n") * 1024
    path.write_text(BASE + "secret = s3cret\n" + filler)
    status, lines = check_config(path)
    assert status == 1
    assert problems(path, lines) == [f"{path}:0: file is larger than 1048576 bytes"]


def test_secret_file_is_read(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    path = tmp_path / "restanza.conf"
    path.write_text(BASE + f"secret_file = {secret}\n")
    status, lines = check_config(path)
    assert status == 0, lines
    assert problems(path, lines) == []


def test_empty_secret_file_is_an_error_at_its_line(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("\n")
    path = tmp_path / "restanza.conf"
    path.write_text(BASE + f"secret_file = {secret}\n")
    status, lines = check_config(path)
    assert status == 1
    assert problems(path, lines) == [
        f"{path}:5: component.secret_file: '{secret}' is empty"
    ]


def test_unreadable_admin_token_file_is_an_error_at_its_line(tmp_path):
    # A directory, because root (as in CI containers) reads any mode 000 file.
    path = tmp_path / "restanza.conf"
    path.write_text(
        BASE + "secret = s3cret\n[http]\nlisten = 0.0.0.0:5380\n"
        f"admin_token_file = {tmp_path}\n"
    )
    status, lines = check_config(path)
    assert status == 1
    assert problems(path, lines) == [
        f"{path}:8: http.admin_token_file: cannot read '{tmp_path}': "
        "Is a directory"
    ]


def test_public_listen_with_admin_token_is_accepted(tmp_path):
    path = tmp_path / "restanza.conf"
    path.write_text(
        BASE + "secret = s3cret\n[http]\nlisten = [::]:5380\nadmin_token = t0ken\n"
    )
    status, lines = check_config(path)
    assert status == 0, lines
