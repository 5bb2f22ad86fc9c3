"""The words behind the fault tests, without daemons: cache errors classified by kind (a status
code inside a blob digest is not a status), a lost builder told apart from a failing step, and
the report saying when the cache was not saved."""

from __future__ import annotations

import pytest

from railpack_tui.core import builders
from railpack_tui.core.model import classify_cache_error
from railpack_tui.core.report import export_lines

DIGEST_WITH_401 = "sha256:e91365c40143344f5a22ed3e838c3295be4a63c0224933a80da3488657fc83da"


@pytest.mark.parametrize("message, export, kind", [
    (f'error writing layer blob: Head "http://127.0.0.1:5000/v2/x/blobs/{DIGEST_WITH_401}": dial tcp '
     "127.0.0.1:5000: connect: connection refused", True, "unreachable"),
    (f"blob {DIGEST_WITH_401.replace('401', '404')} failed: EOF", False, "unreachable"),
    ("unexpected status from HEAD request to http://r/v2/x/manifests/c: 401 Unauthorized", False, "unauthorized"),
    ("push access denied: 403 Forbidden", True, "unauthorized"),
    ("r/x:c: not found", False, "not-found"),
    ("unexpected status: 404", False, "not-found"),
    ("unexpected status: 404", True, "error"),
    ("something else entirely", True, "error"),
])
def test_cache_errors_are_classified_by_kind(message, export, kind):
    assert classify_cache_error(message, export=export) == kind


@pytest.mark.parametrize("text, lost", [
    ("failed to receive status: rpc error: code = Unavailable desc = error reading from server: EOF", True),
    ("rpc error: code = Unavailable desc = transport is closing", True),
    ('failed to solve: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3', False),
    ("failed to solve: error writing layer blob: connection refused", False),
    ("", False),
    (None, False),
])
def test_a_lost_builder_is_told_apart_from_a_failed_build(text, lost):
    assert builders.connection_lost(text) is lost


def test_lost_error_names_the_builder_and_the_fix():
    b = builders.Builder(addr="unix:///run/buildkitd.sock", source="flag")
    err = builders.lost_error(b, "error: failed to receive status: rpc error: code = Unavailable desc = EOF")
    assert err.kind == "builder-lost" and err.exit_code == 3
    assert err.message.startswith("builder connection lost: unix:///run/buildkitd.sock stopped answering")
    assert err.fix


def test_report_says_when_the_cache_was_not_saved():
    ref = "r.example/team/app:cache"
    assert export_lines({"cache_export": [{"ref": ref, "state": "ok", "detail": "cache exported"}]}) == []
    [failed] = export_lines({"cache_export": [{"ref": ref, "state": "unauthorized", "detail": "401 Unauthorized"}]})
    assert failed == f"cache NOT saved to {ref}: the export failed (unauthorized): 401 Unauthorized"
    [ignored] = export_lines({"cache_export": [{"ref": ref, "state": "ignored-error",
                                                "detail": "dial tcp 127.0.0.1:1: connect: connection refused"}]})
    assert ignored.startswith(f"cache NOT saved to {ref}: the export failed (unreachable) and was ignored")
    assert "the build still succeeded" in ignored
    # a build that failed before its export: the export did not fail, it never ran
    [never] = export_lines({"cache_export": [{"ref": ref, "state": "error",
                                              "detail": "not exported: the build ended before the cache export"}]})
    assert never == f"cache NOT saved to {ref}: the build ended before the cache export"


def _run(status: str, states: list[str]):
    from railpack_tui.core.history import Run, StepRecord

    steps = [StepRecord(name=f"[{i}/{len(states)}] RUN x{i}", stage=None, index=i, total=len(states), state=s,
                        duration_s=0.1, pulled_bytes=0) for i, s in enumerate(states, 1)]
    return Run(id=7, project="/p", started_at=1_800_000_000.0, duration_s=1.0, status=status, engine="buildkit",
               builder="unix:///b.sock", cache_ref=None, mode="max", no_import=False, no_export=False, no_cache=False,
               git_rev=None, git_dirty=None, build_args={}, base_images={}, cache_import=[], cache_export=[],
               summary={"steps": len(states), "cached": states.count("cached"), "hit_ratio": 0.0}, steps=steps)


def test_history_text_does_not_call_a_stopped_build_cached():
    from railpack_tui.core.commands.history import render

    assert render("/p", [_run("success", ["cached", "cached"])]).endswith("build #7: every step cached")
    stopped = render("/p", [_run("failed", ["cached", "cancelled"])])
    assert "every step cached" not in stopped
    assert stopped.endswith("build #7: failed, 1/2 steps cached")
