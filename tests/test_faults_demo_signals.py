"""`railpack-tui demo` stopped during its cold build: SIGTERM (dies of it) and Ctrl-C (SIGINT to
the process alone, as a terminal's Ctrl-C reaches it: buildctl runs in a session of its own).
No buildctl and no step process is left running and the temporary Docker config holding the
registry password is gone; with --json, Ctrl-C still prints the contract's error shape.

Before, demo installed no handler: SIGTERM left buildctl, the step and the config behind, and
Ctrl-C removed the config but left buildctl and the step running. Every wait is bounded."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from support import faults

pytestmark = [pytest.mark.sandbox]

CLI = [sys.executable, "-m", "railpack_tui.core"]


@pytest.mark.parametrize("sig, as_json", [(signal.SIGTERM, False), (signal.SIGINT, False), (signal.SIGINT, True)],
                         ids=["sigterm", "ctrl-c", "ctrl-c-json"])
def test_demo_stopped_during_a_build_leaves_nothing_behind(sig, as_json, sandbox, sandbox_credential, tmp_path,
                                                           unique_ref):
    project, token = faults.slow_project(tmp_path)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    args = ["demo", str(project), "--cache-ref", unique_ref, "--builder", sandbox.buildkit_host] + (["--json"] if as_json else [])
    proc = subprocess.Popen(CLI + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ, TMPDIR=str(tmpdir)))
    try:
        faults.wait_until(lambda: faults.find_process(token) or proc.poll() is not None, 90, "the cold build's slow step runs")
        assert proc.poll() is None, proc.communicate()
        engine = [p for p in faults.descendants(proc.pid) if b"buildctl" in faults.cmdline(p)]
        assert engine, "the demo runs no buildctl"
        groups = {faults.processes()[p][1] for p in engine}
        assert len(faults.temp_docker_configs(tmpdir)) == 1  # the sandbox login is in it

        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in out + err, err
    assert proc.returncode == (-signal.SIGTERM if sig == signal.SIGTERM else 130), (proc.returncode, err)
    assert faults.temp_docker_configs(tmpdir) == [], "the temporary Docker config survived"
    faults.wait_until(lambda: not [p for p in engine if faults.pid_alive(p)], 30, "buildctl exits")
    assert faults.in_groups(groups) == []
    faults.wait_until(lambda: not faults.find_process(token), 30, "the step's process is gone")
    if as_json:
        data = json.loads(out)
        assert data["ok"] is False and data["error"]["kind"] == "interrupted", data
