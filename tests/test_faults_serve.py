"""`railpack-tui serve` during a build started from a browser session (a websocket client speaking
textual-serve's protocol, as the page does): the tab is closed, or serve gets SIGTERM. The
session's dashboard cancels the build: no buildctl and no step process left behind, the
temporary Docker config removed, the run recorded as cancelled, and serve itself ends.

Before, the dashboard ended without `q` and its build ran to its end (buildctl, the step and the
config with it) while the dashboard process, and so serve, waited for it. Every wait is bounded."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import browser, faults

pytestmark = [pytest.mark.sandbox]

CLI = [sys.executable, "-m", "railpack_tui.core"]


async def _start_build_in_a_tab(port: int, token: str):
    import aiohttp

    deadline = time.monotonic() + 30
    while True:  # the server is up once its page answers
        try:
            async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/") as r:
                await r.read()
                break
        except aiohttp.ClientError:
            assert time.monotonic() < deadline, "serve never answered"
            await asyncio.sleep(0.1)
    session = aiohttp.ClientSession()
    ws = await session.ws_connect(f"ws://127.0.0.1:{port}/ws?width=120&height=40")
    drain = asyncio.create_task(_drain(ws))
    deadline = time.monotonic() + 90
    while not faults.find_process(token):  # `b` until the build runs (keys sent early may land before the app)
        assert time.monotonic() < deadline, "the served dashboard's build never ran its slow step"
        await ws.send_json(["stdin", "b"])
        await asyncio.sleep(1)
    return session, ws, drain


async def _drain(ws) -> None:
    async for _ in ws:
        pass


@pytest.mark.parametrize("how", ["tab-closed", "sigterm-to-serve"])
async def test_serve_stopped_during_a_build_leaves_nothing_behind(how, sandbox, tmp_path):
    dirs = {name: tmp_path / name for name in ("config", "data", "state", "tmp")}
    for d in dirs.values():
        d.mkdir()
    env = dict(os.environ, TMPDIR=str(dirs["tmp"]), RAILPACK_TUI_CONFIG_DIR=str(dirs["config"]),
               RAILPACK_TUI_DATA_DIR=str(dirs["data"]), RAILPACK_TUI_STATE_DIR=str(dirs["state"]))
    project, token = faults.slow_project(tmp_path)
    port = browser.free_port()
    serve = subprocess.Popen(CLI + ["--project", str(project), "serve", "--port", str(port)], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, start_new_session=True)
    session = None
    try:
        session, ws, drain = await _start_build_in_a_tab(port, token)
        started = faults.descendants(serve.pid)
        engine = [p for p in started if b"buildctl" in faults.cmdline(p)]
        assert engine, "the served dashboard runs no buildctl"
        groups = {faults.processes()[p][1] for p in engine}
        assert len(faults.temp_docker_configs(dirs["tmp"])) == 1  # it holds the sandbox login

        if how == "tab-closed":
            await ws.close()
        else:
            serve.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while [p for p in started if faults.pid_alive(p)]:
            assert time.monotonic() < deadline, [faults.cmdline(p)[:80] for p in started if faults.pid_alive(p)]
            await asyncio.sleep(0.1)
        assert faults.in_groups(groups) == []
        assert faults.temp_docker_configs(dirs["tmp"]) == [], "the temporary Docker config survived"
        assert not faults.find_process(token), "the step runs on"
        if how == "sigterm-to-serve":
            assert serve.wait(timeout=30) == 0
        else:
            assert serve.poll() is None  # the server itself keeps serving other tabs
        drain.cancel()
    finally:
        if session is not None:
            await session.close()
        if serve.poll() is None:
            serve.send_signal(signal.SIGTERM)
            try:
                serve.wait(timeout=30)
            except subprocess.TimeoutExpired:
                serve.kill()
        stderr = serve.stderr.read().decode(errors="replace") if serve.stderr else ""
    assert "Traceback" not in stderr, stderr[-3000:]
    h = subprocess.run(CLI + ["history", str(project), "--json"], capture_output=True, text=True, timeout=60, env=env)
    assert [r["status"] for r in json.loads(h.stdout)["runs"]] == ["cancelled"], h.stdout


def test_serve_passes_its_stop_signal_to_the_dashboards_it_started_only():
    """serve's SIGTERM/SIGINT handler signals the processes it started in its own process group
    (each tab's `sh -c` and dashboard) so they cancel their builds at once; an engine, in a session
    of its own, is left to its dashboard (which cancels it cleanly). Run in a child process: here,
    the test process's own group holds the test session's helpers."""
    code = (
        "import subprocess, sys, time\n"
        "from railpack_tui.core.commands import serve\n"
        "tab = subprocess.Popen(['sleep', '60'])\n"
        "engine = subprocess.Popen(['sleep', '60'], start_new_session=True)\n"
        "sent = serve._signal_dashboards()\n"
        "print(tab.pid in sent, engine.pid in sent, tab.wait(10), engine.poll())\n"
        "engine.kill()\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == ["True", "False", str(-signal.SIGTERM), "None"], r.stdout + r.stderr
