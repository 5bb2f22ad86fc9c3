"""The buildkit and buildx engines against the real sandbox: cold build exporting registry cache,
local cache pruned, warm build importing it with every step cached; the CLI's JSON; cancel
(stops, no process left, BuildKit records a cancelled solve, the temporary Docker config is
gone); buildx's `docker`-driver refusal."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from railpack_tui.core import tools
from railpack_tui.core.engines import base as engine_base
from railpack_tui.core.engines import buildx as buildx_engine
from railpack_tui.core.errors import EnvironmentProblem
from railpack_tui.core.runner import BuildRequest, BuildRun, run_build

pytestmark = pytest.mark.sandbox


def prune(addr: str) -> None:
    r = subprocess.run([tools.require("buildctl", "tests"), "--addr", addr, "prune", "--all"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def states(result) -> dict[str, str]:
    return {s.name: s.state for s in result.model.steps}


@pytest.fixture()
def buildx_config(tmp_path, monkeypatch):
    """buildx keeps builders under BUILDX_CONFIG: a private one per test."""
    d = tmp_path / "buildx"
    monkeypatch.setenv("BUILDX_CONFIG", str(d))
    return d


@pytest.mark.parametrize("engine", ["buildkit", "buildx"])
def test_cold_then_warm_from_registry(engine, sandbox, example_project, unique_ref, buildx_config):
    prune(sandbox.buildkit_host)
    req = BuildRequest(path=str(example_project), cache_ref=unique_ref, engine=engine, builder=sandbox.buildkit_host)
    cold = run_build(req)
    assert cold.error is None, cold.error
    assert cold.status == "success", cold.model.error
    assert len(cold.model.steps) >= 7
    # nothing to import and the local cache pruned: every RUN executes (BuildKit may still
    # answer the very first COPY onto scratch from a content-addressed record)
    assert all(v == "executed" for k, v in states(cold).items() if " RUN " in k), states(cold)
    assert [o.state for o in cold.model.cache_import] == ["not-found"]
    assert [o.state for o in cold.model.cache_export] == ["ok"]

    prune(sandbox.buildkit_host)
    warm = run_build(req)
    assert warm.status == "success", warm.model.error
    assert [o.state for o in warm.model.cache_import] == ["ok"]
    assert set(states(warm)) == set(states(cold))
    assert set(states(warm).values()) == {"cached"}, states(warm)
    assert warm.report()["summary"]["hit_ratio"] == 1.0
    cmd = warm.command_line
    assert unique_ref in cmd and 'DOCKER_CONFIG="${DOCKER_CONFIG:-$HOME/.docker}"' in cmd
    assert ("buildctl " if engine == "buildkit" else "docker buildx build ") in cmd


def test_cli_build_json_and_exit_codes(sandbox, sandbox_credential, example_project, unique_ref, capsys):
    from railpack_tui.core.cli import main

    code = main(["build", str(example_project), "--cache-ref", unique_ref, "--builder", sandbox.buildkit_host,
                 "--mode", "min", "--build-arg", "APP_VERSION=9", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    assert out["status"] == "success"
    for key in ("run_id", "engine", "builder", "cache_ref", "duration_s", "steps", "summary", "cache_import", "cache_export"):
        assert key in out
    assert out["engine"] == "buildkit" and out["builder"] == sandbox.buildkit_host and out["cache_ref"] == unique_ref
    assert "mode=min" in out["command_line"] and "build-arg:APP_VERSION=9" in out["command_line"]
    assert sandbox_credential.password not in json.dumps(out)
    executed = [s for s in out["steps"] if s["state"] == "executed"]  # each says why it missed
    assert all(s["miss"] and s["miss"]["kind"] for s in executed), executed

    # a build that fails: exit 1, the step error in the report
    with open(example_project / "Dockerfile", "a") as fh:
        fh.write('RUN ["/bin/sh", "-c", "exit 3"]\n')
    code = main(["build", str(example_project), "--builder", sandbox.buildkit_host, "--no-import", "--no-export", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["status"] == "failed"
    assert any(s["state"] == "error" for s in out["steps"])

    code = main(["build", str(example_project / "nope"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 2 and out["ok"] is False

    code = main(["build", str(example_project), "--cache-ref", "Not A Ref", "--json"])
    assert code == 2


def test_history_records_the_builder_a_build_used_when_none_was_given(sandbox, example_project, monkeypatch, capsys):
    """Without --builder the build runs on BUILDKIT_HOST (or the sandbox); history recorded null."""
    from railpack_tui.core.cli import main

    monkeypatch.setenv("BUILDKIT_HOST", sandbox.buildkit_host)
    assert main(["build", str(example_project), "--no-import", "--no-export", "--json"]) == 0
    built = json.loads(capsys.readouterr().out)
    assert built["builder"] == sandbox.buildkit_host
    assert main(["history", str(example_project), "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [r["builder"] for r in runs if r["id"] == built["run_id"]] == [sandbox.buildkit_host]


def _slow_project(tmp_path: Path, token: str) -> Path:
    d = tmp_path / "slow"
    d.mkdir()
    from railpack_tui.core import example

    shutil.copy2(example.find_busybox(), d / "busybox")
    (d / "Dockerfile").write_text(
        "FROM scratch\nCOPY busybox /bin/busybox\n"
        f'RUN ["/bin/busybox", "sh", "-c", "echo {token}; /bin/busybox sleep 120"]\n')
    return d


def _children_of_me() -> list[str]:
    me = str(os.getpid())
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry.name}/stat").read()
            cmd = open(f"/proc/{entry.name}/cmdline", "rb").read().replace(b"\0", b" ").decode()
        except OSError:
            continue
        rest = stat.rsplit(")", 1)[-1].split()
        argv0 = os.path.basename(cmd.split(" ", 1)[0])
        if rest[1] == me and rest[0] != "Z" and argv0 in ("buildctl", "docker", "docker-buildx", "env", "setsid"):
            found.append(cmd)
    return found


def _history_error(addr: str, marker: str) -> dict | None:
    r = subprocess.run([tools.require("buildctl", "tests"), "--addr", addr, "debug", "histories", "--format", "{{json .}}"],
                       capture_output=True, text=True, timeout=30)
    for line in r.stdout.splitlines():
        if marker in line:
            rec = json.loads(line).get("record", {})
            return rec.get("error") or rec.get("Error") or {}
    return None


@pytest.mark.parametrize("engine", ["buildkit", "buildx"])
def test_cancel_stops_everything(engine, sandbox, tmp_path, unique_ref, buildx_config):
    import uuid

    token = uuid.uuid4().hex
    project = _slow_project(tmp_path, token)
    running = threading.Event()
    seen_configs: list[Path] = []

    def on_event(ev):
        if run.docker_config is not None and not seen_configs:
            seen_configs.append(run.docker_config)
        if ev.kind == "progress" and run.model is not None:
            # cancel once the step's process really runs (its first output line arrived)
            if any(s.state == "running" and token in s.logs.text() for s in run.model.steps):
                running.set()

    run = BuildRun(BuildRequest(path=str(project), cache_ref=unique_ref, engine=engine, builder=sandbox.buildkit_host,
                                no_export=True), on_event=on_event)
    run.start()
    assert running.wait(20), ("the slow step never started", run.model and [(s.state, s.name, s.logs.text()) for s in run.model.steps], run.result)
    assert seen_configs and (seen_configs[0] / "config.json").exists()
    pgid = run.pgid
    assert pgid and engine_base.group_alive(pgid)
    run.cancel()
    result = run.wait(30)
    assert result is not None, "the build did not stop after cancel"
    assert result.cancelled and result.status == "cancelled"
    sleep_step = next(s for s in result.model.steps if "sleep" in s.name)
    # BuildKit kills the step's process: the model shows it cancelled or failed by that kill, never done
    assert sleep_step.state in ("cancelled", "error"), sleep_step.state
    assert not engine_base.group_alive(pgid)
    assert _children_of_me() == []
    assert not seen_configs[0].exists()
    assert run.docker_config is not None and not run.docker_config.exists()
    # BuildKit finalises the history record asynchronously after the client went away
    deadline = time.monotonic() + 15
    while not (err := _history_error(sandbox.buildkit_host, unique_ref)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert err is not None, "BuildKit has no record of the build"
    assert "cancel" in json.dumps(err).lower(), err


def test_buildx_refuses_docker_driver(sandbox, example_project, unique_ref, buildx_config):
    names = {b.name: b.driver for b in buildx_engine.list_builders()}
    assert "default" in names  # the docker-driver builder of the default context (no daemon here)
    req = BuildRequest(path=str(example_project), cache_ref=unique_ref, engine="buildx", builder="default")
    result = run_build(req)
    assert isinstance(result.error, EnvironmentProblem)
    assert result.error.kind == "builder-cannot-export"
    assert "docker` driver" in result.error.message and "cannot export registry cache" in result.error.message
    assert "--driver remote" in result.error.fix
    assert result.returncode is None  # nothing was started


def test_buildx_named_remote_builder(sandbox, example_project, unique_ref, buildx_config):
    name = buildx_engine.create_remote_builder(sandbox.buildkit_host, name="rt-test-remote")
    assert name == "rt-test-remote"
    drivers = {b.name: b.driver for b in buildx_engine.list_builders()}
    assert drivers["rt-test-remote"] == "remote"
    result = run_build(BuildRequest(path=str(example_project), cache_ref=unique_ref, engine="buildx",
                                    builder="rt-test-remote", no_import=True))
    assert result.status == "success", (result.error, result.model and result.model.error)
    assert result.builder == "buildx:rt-test-remote"
    assert "--builder rt-test-remote" in result.command_line

    # the same name with buildctl: the remote node's BuildKit address is used
    direct = run_build(BuildRequest(path=str(example_project), engine="buildkit", builder="rt-test-remote"))
    assert direct.status == "success", direct.error
    assert direct.builder == sandbox.buildkit_host
