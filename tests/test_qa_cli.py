"""Bugs found in a QA pass through the real command line (`python -m railpack_tui.core ...` in a
subprocess, private config/data/state/sandbox directories, no builder unless a test asks for the
sandbox)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "railpack_tui.core"]


@pytest.fixture()
def world(tmp_path):
    for name in ("config", "data", "state", "sandbox"):
        (tmp_path / name).mkdir()
    ok = tmp_path / "ok"
    ok.mkdir()
    (ok / "Dockerfile").write_text("FROM scratch\nCOPY Dockerfile /\n")
    return tmp_path


def run(w: Path, args: list[str]) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("BUILDKIT_HOST", None)  # no builder: a refused input never gets as far as one
    env.update({"RAILPACK_TUI_CONFIG_DIR": str(w / "config"), "RAILPACK_TUI_DATA_DIR": str(w / "data"),
                "RAILPACK_TUI_STATE_DIR": str(w / "state"), "RAILPACK_TUI_SANDBOX_DIR": str(w / "sandbox"),
                "TMPDIR": str(w)})
    return subprocess.run(CLI + args, capture_output=True, text=True, timeout=60, env=env)


# `--cache-ref "$CACHE_REF"` with the variable unset in CI: the build (or the demo) must not run
# silently without any registry cache; before, `build` built with no cache and exited 0, and `demo`
# ran both builds cache-less and printed a negative "time saved by the registry cache".
@pytest.mark.parametrize("args", [
    ["build", "{w}/ok", "--cache-ref", ""],
    ["demo", "{w}/ok", "--cache-ref", ""],
], ids=["build", "demo"])
def test_an_empty_cache_ref_is_bad_input(world, args):
    argv = [a.replace("{w}", str(world)) for a in args]
    text = run(world, argv)
    out = text.stdout + text.stderr
    assert "Traceback" not in out, out
    assert text.returncode == 2, (text.returncode, out)
    assert "--cache-ref is empty" in out, out
    as_json = run(world, argv + ["--json"])
    assert as_json.returncode == 2, as_json.stdout + as_json.stderr
    error = json.loads(as_json.stdout)["error"]
    assert error["kind"] == "invalid-ref", error
    assert "--cache-ref is empty" in error["message"], error


# A build whose registry import failed (or found nothing) can still be fully cached from the
# builder's own local cache. The loud line said "every step ran without the registry cache" (and
# "COLD BUILD ... the normal first build") next to "8 cached, hit ratio 100%".
@pytest.mark.parametrize("state", ["unreachable", "unauthorized", "not-found"])
def test_cold_line_does_not_say_every_step_ran_when_steps_were_cached_locally(state):
    from railpack_tui.core.report import cold_line

    report = {"cache_import": [{"ref": "127.0.0.1:1/qa/x:y", "state": state, "detail": "connection refused"}],
              "summary": {"steps": 8, "cached": 6, "executed": 2}}
    line = cold_line(report)
    assert "every step ran" not in line, line
    assert "6 of 8 steps were cached by this builder's local cache" in line, line
    report["summary"] = {"steps": 8, "cached": 0, "executed": 8}
    line = cold_line(report)
    assert "local cache" not in line, line


# A build that failed before BuildKit imported anything (a Dockerfile typo, an unreachable
# builder in the dashboard) was reported as a failed cache import: "!!! COLD BUILD: cache import
# ... failed (error): the progress stream never reported importing this ref", and the dashboard
# showed its red THIS BUILD IS COLD banner, pointing at the registry instead of the real error.
def _ended_before_the_import():
    from railpack_tui.core.model import BuildModel

    m = BuildModel("rawjson")
    m.expect_cache(["127.0.0.1:5000/qa/x:y"], ["127.0.0.1:5000/qa/x:y"])
    m.feed_line(json.dumps({"vertexes": [{
        "digest": "sha256:aa", "name": "[internal] load build definition from Dockerfile",
        "started": "2026-12-04T16:00:00.000000000Z", "completed": "2026-12-04T16:00:00.100000000Z",
        "error": "dockerfile parse error on line 2: unknown instruction: RUNX"}]}).encode())
    m.finish(1)
    return m


def test_a_build_that_ended_before_the_cache_import_is_not_a_cold_build():
    from railpack_tui.core.report import cold_line, render_table

    report = _ended_before_the_import().to_report()
    assert report["status"] == "failed"
    assert report["cache_import"][0]["detail"].startswith("not imported: the build ended before"), report["cache_import"]
    assert cold_line(report) is None
    assert "COLD BUILD" not in render_table(report)


def test_the_dashboard_shows_no_cold_banner_for_a_build_that_ended_before_the_import():
    from railpack_tui.tui import buildview as bv

    assert bv.import_failure(_ended_before_the_import()) is None


# `history`: the newest build failed (its cache export was refused) with every step cached, and
# the line under the table said only "build #16: every step cached".
def test_history_says_when_the_newest_build_failed_though_every_step_was_cached():
    from railpack_tui.core.commands.history import render
    from railpack_tui.core.history import Run, StepRecord

    run = Run(id=16, project="/p", started_at=0.0, duration_s=0.1, status="failed", engine="buildkit", builder=None,
              cache_ref="127.0.0.1:1/qa/x:y", mode="max", no_import=False, no_export=False, no_cache=False,
              git_rev=None, git_dirty=None, build_args={}, base_images={}, cache_import=[], cache_export=[],
              summary={"steps": 1, "cached": 1, "hit_ratio": 1.0},
              steps=[StepRecord("[1/1] COPY a /", None, 1, 1, "cached", 0.0, 0)])
    last = render("/p", [run]).splitlines()[-1]
    assert "failed" in last, last


# `report FILE --format plain` on a rawjson recording said the file "holds no BuildKit progress
# (neither --progress=rawjson nor --progress=plain lines)": wrong, it holds rawjson.
def test_report_with_the_wrong_format_names_the_format(world):
    rec = Path(__file__).resolve().parent / "fixtures" / "recorded" / "warm-from-registry.rawjson.jsonl"
    result = run(world, ["report", str(rec), "--format", "plain"])
    out = result.stdout + result.stderr
    assert result.returncode == 2, out
    assert "neither" not in out and "--progress=plain" in out and "--format" in out, out


# A Dockerfile with a misspelt instruction (RUNX), which BuildKit rejects outright, was read as
# "1 stage, 0 steps": the Projects screen showed no steps and no hint of the typo.
def test_an_unknown_instruction_is_refused_with_its_line_and_the_likely_one():
    from railpack_tui.core import dockerfile
    from railpack_tui.core.errors import BadInput

    with pytest.raises(BadInput) as err:
        dockerfile.parse("FROM scratch\nCOPY a /a\nRUNX echo hi\n")
    assert "line 3: unknown instruction RUNX" in err.value.message and "RUN" in (err.value.fix or "")
    # another frontend (# syntax=...) may have instructions of its own: left to BuildKit
    dockerfile.parse("# syntax=example.com/custom-frontend:1\nFROM scratch\nRUNX echo hi\n")
    # the usual ones, any case, and ONBUILD's
    dockerfile.parse("from scratch\nLabel a=b\nEXPOSE 80\nVOLUME /v\nUSER 1\nSTOPSIGNAL 9\n"
                     "HEALTHCHECK NONE\nSHELL [\"/bin/sh\", \"-c\"]\nMAINTAINER x\nONBUILD RUN x\nENTRYPOINT x\nCMD x\n")


def test_the_projects_heading_names_the_typo_and_its_fix(tmp_path):
    from railpack_tui.core.project import detect

    (tmp_path / "Dockerfile").write_text("FROM scratch\nRUNX echo hi\n")
    p = detect(tmp_path)
    assert p.kind == "dockerfile" and "line 2: unknown instruction RUNX" in p.description, p.description
    assert "did you mean RUN?" in p.description, p.description


# `railpack-tui build --help` listed --cache-ref, --engine, --builder, --mode, --no-import,
# --no-export, --build-arg, --json ... with no word on what they do (and so did the other
# commands): every option and argument of every command says what it is for.
def test_every_option_of_every_command_has_help():
    import argparse

    from railpack_tui.core.cli import build_parser

    missing = []

    def walk(parser, prefix):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{prefix} {name}")
            elif not isinstance(action, (argparse._HelpAction, argparse._VersionAction)) and not action.help:
                missing.append(f"{prefix} {'/'.join(action.option_strings) or action.dest}")

    walk(build_parser(), "railpack-tui")
    assert not missing, missing
