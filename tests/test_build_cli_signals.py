"""`railpack-tui build` as a real process, stopped mid-build: Ctrl-C (SIGINT) cancels the build and
exits 130 with a cancelled report; SIGTERM (and SIGHUP, a closed terminal) kills the build's
process group too; either way the temporary Docker config is gone, no buildctl is left running
and BuildKit recorded a cancel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from railpack_tui.core import tools
from test_engine_builds import _slow_project  # noqa: E402 (tests/ is on sys.path)

pytestmark = pytest.mark.sandbox


def _buildctl_for(project: Path) -> list[int]:
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                cmd = open(f"/proc/{entry.name}/cmdline", "rb").read()
            except OSError:
                continue
            if b"buildctl" in cmd and str(project).encode() in cmd:
                pids.append(int(entry.name))
    return pids


def _cancel_recorded(addr: str, ref: str) -> bool:
    r = subprocess.run([tools.require("buildctl", "tests"), "--addr", addr, "debug", "histories", "--format", "{{json .}}"],
                       capture_output=True, text=True, timeout=30)
    return any(ref in ln and "cancel" in ln.lower() for ln in r.stdout.splitlines())


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_signal_stops_build_and_cleans_up(sig, sandbox, tmp_path, unique_ref):
    token = uuid.uuid4().hex
    project = _slow_project(tmp_path, token)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    progress = tmp_path / "progress.jsonl"
    env = dict(os.environ, TMPDIR=str(tmp))
    proc = subprocess.Popen([sys.executable, "-m", "railpack_tui.core", "build", str(project), "--cache-ref", unique_ref,
                             "--no-export", "--builder", sandbox.buildkit_host, "--progress-file", str(progress), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:  # the step's process runs once its output is in the stream
        if progress.exists() and _logged(progress, token):
            break
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("the slow step never started")
    configs = list(tmp.glob("railpack-tui-docker-*"))
    assert len(configs) == 1 and (configs[0] / "config.json").exists()
    assert _buildctl_for(project)

    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    if sig == signal.SIGINT:
        assert proc.returncode == 130, err
        assert json.loads(out)["status"] == "cancelled"
    else:  # the terminal closed (SIGHUP) is handled like SIGTERM
        assert proc.returncode == -sig, err
    assert not list(tmp.glob("railpack-tui-docker-*")), "the temporary Docker config survived"
    for _ in range(50):
        if not _buildctl_for(project):
            break
        time.sleep(0.1)
    assert _buildctl_for(project) == []
    for _ in range(50):
        if _cancel_recorded(sandbox.buildkit_host, unique_ref):
            break
        time.sleep(0.2)
    assert _cancel_recorded(sandbox.buildkit_host, unique_ref), "BuildKit did not record a cancelled build"


def _logged(progress: Path, token: str) -> bool:
    import base64

    want = base64.b64encode(f"{token}\n".encode()).decode()
    try:
        return want in progress.read_text()
    except OSError:
        return False
