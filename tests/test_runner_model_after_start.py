"""`railpack-tui build` makes its BuildModel once the engine runs, so the model's module loads
while buildctl starts instead of before it. What the build reports must not change: a run that
ends before the engine started has the model it had then (its secrets masker, the cache it
expected), and its report is the one the dashboard's way (model first) gives."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from railpack_tui.core.engines.buildkit import BuildKitEngine
from railpack_tui.core.errors import EnvironmentProblem
from railpack_tui.core.runner import BuildRequest, BuildRun


def test_the_command_line_loads_the_model_once_the_engine_runs(sandbox, example_project):
    code = ("import json, sys\nfrom railpack_tui.core import cli\nfrom railpack_tui.core.engines import base\n"
            "seen = []\nstart = base.EngineProcess.__init__\n"
            "def started(self, inv):\n"
            "    seen.append('railpack_tui.core.model' in sys.modules)\n"
            "    start(self, inv)\n"
            "base.EngineProcess.__init__ = started\n"
            f"code = cli.main(['build', {str(example_project)!r}, '--builder', {sandbox.buildkit_host!r}, '--json'])\n"
            "print(json.dumps({'code': code, 'model_loaded_at_start': seen}), file=sys.stderr)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["status"] == "success"
    assert json.loads(p.stderr.strip().splitlines()[-1]) == {"code": 0, "model_loaded_at_start": [False]}


def _report(run: BuildRun) -> dict:
    result = run.run()
    assert result.model is not None
    report = result.report()
    for volatile in ("run_id", "duration_s"):
        report.pop(volatile)
    return report


@pytest.mark.parametrize("where", ["cancelled before the engine", "the engine cannot start"])
def test_a_run_that_ends_before_the_engine_reports_as_the_model_first_way(where, sandbox, sandbox_credential,
                                                                          example_project, unique_ref, monkeypatch):
    proj = example_project
    if where == "the engine cannot start":
        def start(self, request, docker_config):
            raise EnvironmentProblem("buildctl could not be started.", fix="reinstall it")

        monkeypatch.setattr(BuildKitEngine, "start", start)
    reports, maskers = [], []
    for after_start in (False, True):
        run = BuildRun(BuildRequest(path=str(proj), builder=sandbox.buildkit_host, cache_ref=unique_ref),
                       model_after_start=after_start)
        if where == "cancelled before the engine":
            run.cancel()
        reports.append(_report(run))
        maskers.append(run.model.masker is not None)
    first, after = reports
    assert after == first
    if where == "the engine cannot start":  # it had the registry's password to mask and the cache to expect
        assert maskers == [True, True]
        assert after["error"]["message"].startswith("buildctl could not be started.")
        assert [o["ref"] for o in after["cache_import"]] == [unique_ref] == [o["ref"] for o in after["cache_export"]]
    else:
        assert after["status"] == "cancelled" and maskers == [False, False]
