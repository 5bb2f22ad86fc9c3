"""The railpack engine, offline, against the real sandbox. Plan generation (`railpack prepare`)
needs the network, so the app carries a hand-written railpack-plan.json whose images come from
the sandbox registry (a busybox base image built from scratch and pushed there by this test).

Default path (railpack-llb helper + buildctl): cold then warm from the registry, every plan
command cached. Frontend path (railpack as a BuildKit gateway frontend): builds and exports, but
railpack's frontend drops the cache imports, so the warm build re-runs; asserted, so that a
railpack release that fixes it shows up here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from railpack_tui.core import dockerconfig, tools
from railpack_tui.core.engines import railpack as railpack_engine
from railpack_tui.core.errors import EnvironmentProblem
from railpack_tui.core.runner import BuildRequest, run_build

pytestmark = pytest.mark.sandbox


def _missing(what: str) -> None:
    """Skip locally; under CI (RAILPACK_TUI_REQUIRE_SANDBOX) a missing tool is a failure."""
    if os.environ.get("RAILPACK_TUI_REQUIRE_SANDBOX", "").lower() in ("1", "true", "yes"):
        pytest.fail(what)
    pytest.skip(what)

BASE_DOCKERFILE = 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
# plan commands (custom names) -> plan steps: what the report maps vertexes back to
COMMANDS = {"resolve dependencies": "install", "build app": "build"}


def _require_railpack():
    if tools.find("railpack") is None:
        _missing("railpack is not installed (scripts/install-tools)")


@pytest.fixture(scope="module")
def base_image(sandbox, sandbox_credential):
    _require_railpack()
    from railpack_tui.core import example

    ref = f"{sandbox.registry}/tests/railpack-base:busybox"
    with dockerconfig.temporary([sandbox_credential]) as cfg:
        railpack_engine.publish_image(["--addr", sandbox.buildkit_host], BASE_DOCKERFILE,
                                      {"busybox": example.find_busybox()}, ref, str(cfg))
    return ref


def plan_for(base: str) -> dict:
    return {
        "steps": [
            {"name": "install", "inputs": [{"image": base}, {"local": True, "include": ["requirements.txt"]}],
             "commands": [{"cmd": "sh -c 'sort requirements.txt > resolved.txt; sleep 1'", "customName": "resolve dependencies"}]},
            {"name": "build", "inputs": [{"step": "install"}, {"local": True, "include": ["src"]}],
             "commands": [{"cmd": "sh -c 'cat src/*.txt > app.txt'", "customName": "build app"}]},
        ],
        "deploy": {"base": {"image": base}, "inputs": [{"step": "build", "include": ["/app/app.txt"]}],
                   "startCommand": "cat /app/app.txt"},
    }


@pytest.fixture()
def railpack_app(example_project, base_image) -> Path:
    (example_project / "Dockerfile").unlink()
    (example_project / "busybox").unlink()
    (example_project / railpack_engine.PLAN_FILE).write_text(json.dumps(plan_for(base_image), indent=2))
    return example_project


def prune(addr: str) -> None:
    subprocess.run([tools.find("buildctl"), "--addr", addr, "prune", "--all"], capture_output=True, timeout=120, check=True)


def command_states(result) -> dict[str, str]:
    """States of the build's steps: plan commands and copies (image/local sources are bookkeeping)."""
    assert not any(s.name.startswith(("docker-image://", "loading ")) for s in result.model.steps)
    return {s.name: s.state for s in result.model.steps}


def test_prepare_says_it_needs_the_network(tmp_path):
    _require_railpack()
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("flask\n")
    (app / "main.py").write_text("print('hi')\n")
    out = tmp_path / "plan"
    out.mkdir()
    try:
        railpack_engine.prepare_plan(app, out)
    except EnvironmentProblem as exc:
        assert exc.kind == "railpack-plan"
        assert "needs the network" in exc.message and "mise" in exc.message
        assert railpack_engine.PLAN_FILE in exc.fix
    else:
        pytest.skip("this machine reaches the network: railpack prepare worked")


def test_railpack_cold_then_warm_from_registry(sandbox, railpack_app, unique_ref, monkeypatch):
    monkeypatch.delenv("RAILPACK_TUI_RAILPACK_MODE", raising=False)
    prune(sandbox.buildkit_host)
    req = BuildRequest(path=str(railpack_app), cache_ref=unique_ref, engine="railpack", builder=sandbox.buildkit_host)
    cold = run_build(req)
    assert cold.error is None, cold.error
    assert cold.status == "success", (cold.model.error, cold.output_tail)
    names = set(command_states(cold))
    assert set(COMMANDS) <= names, names
    assert cold.plan_steps == COMMANDS
    assert [st["name"] for st in cold.report()["railpack_plan"]["steps"]] == ["install", "build"]
    assert all(command_states(cold)[n] == "executed" for n in COMMANDS)
    assert [o.state for o in cold.model.cache_export] == ["ok"]
    assert cold.command_line.startswith(f"railpack-llb {railpack_engine.PLAN_FILE} | ")

    prune(sandbox.buildkit_host)
    warm = run_build(req)
    assert warm.status == "success", warm.model.error
    assert [o.state for o in warm.model.cache_import] == ["ok"]
    assert set(command_states(warm)) == names
    assert set(command_states(warm).values()) == {"cached"}, command_states(warm)


def test_railpack_frontend_no_import(sandbox, railpack_app, unique_ref, monkeypatch):
    monkeypatch.setenv("RAILPACK_TUI_RAILPACK_MODE", "frontend")
    req = BuildRequest(path=str(railpack_app), cache_ref=unique_ref, engine="railpack", builder=sandbox.buildkit_host)
    first = run_build(req)
    assert first.status == "success", (first.error, first.model and first.model.error, first.output_tail)
    assert "--frontend gateway.v0" in first.command_line and "railpack-frontend" in first.command_line
    assert [o.state for o in first.model.cache_export] == ["ok"]
    assert any("ignores cache imports" in n for n in first.notes)
    assert set(COMMANDS) <= set(command_states(first))

    prune(sandbox.buildkit_host)
    second = run_build(req)
    assert second.status == "success"
    # railpack's frontend never asks BuildKit to import: no import vertex, the commands run again
    assert [o.state for o in second.model.cache_import] != ["ok"]
    assert all(command_states(second)[n] == "executed" for n in COMMANDS), command_states(second)
    shutil.rmtree(railpack_app, ignore_errors=True)
