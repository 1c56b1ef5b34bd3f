# SPDX-License-Identifier: MIT
"""test_demo.py: the README's first command, contrib/demo.sh, still works:
Prosody, the example webhook bot, the example roster app and restanza start,
a REST ping and a roster refresh answer, and everything stops cleanly."""
import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.servers("prosody")
def test_demo_check_mode_passes_and_leaves_nothing_behind(server):
    """demo.sh runs its own private Prosody (the fixture's is not used)."""
    env = dict(os.environ)
    env.setdefault("RESTANZA_BIN", str(REPO / "src" / "restanza"))
    proc = subprocess.run(["bash", str(REPO / "contrib" / "demo.sh"),
                           "--check"], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120,
                          env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert '"state": "connected"' in out
    assert '"type":"result"' in out           # GET /rest/ping
    assert '"status":"ok"' in out and '"updated":2' in out  # refresh
    assert "check passed" in out
    left = subprocess.run(["pgrep", "-f", "restanza-demo"],
                          capture_output=True, text=True).stdout
    assert left == "", left
