"""tui/buildview.py: how a model reads on screen (badges, times, sizes, timeline bars, miss
reasons, cold vs first build) and reading logs incrementally from a step's LogBuffer."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from railpack_tui.core.model import LogBuffer
from railpack_tui.tui import buildview as bv
from tui_support import replayed


@pytest.mark.parametrize("state,started,completed,expected", [
    ("cached", 1.0, 2.0, "cached"),
    ("executed", 1.0, 2.0, "done"),
    ("running", 1.0, None, "running"),
    ("error", 1.0, 2.0, "error"),
    ("cancelled", 1.0, 2.0, "canceled"),
    ("pending", None, None, "pending"),
    ("pending", 1.0, None, "running"),
])
def test_state_of(state, started, completed, expected):
    assert bv.state_of(NS(state=state, started=started, completed=completed)) == expected


def test_formats():
    assert bv.fmt_duration(None) == ""
    assert bv.fmt_duration(0.04) == "0.0s"
    assert bv.fmt_duration(12.4) == "12s"
    assert bv.fmt_duration(125) == "2m05s"
    assert bv.fmt_duration(3725) == "1h02m"
    assert bv.fmt_bytes(0) == ""
    assert bv.fmt_bytes(999) == "999B"
    assert bv.fmt_bytes(5_300_000) == "5.3MB"
    assert bv.fmt_bytes(250_000_000) == "250MB"


def test_running_duration_uses_the_clock():
    step = NS(state="running", started=100.0, completed=None, duration_s=None)
    assert bv.step_duration(step, now=103.5) == 3.5


def test_timeline_bars_cover_wall_time():
    a = NS(started=0.0, completed=5.0)
    b = NS(started=5.0, completed=10.0)
    running = NS(started=8.0, completed=None)
    wall = bv.wall_range([a, b, running], now=10.0)
    assert wall == (0.0, 10.0)
    assert bv.bar_span(a, wall, 20, now=10.0) == (0, 10)
    assert bv.bar_span(b, wall, 20, now=10.0) == (10, 20)
    assert bv.bar_span(running, wall, 20, now=10.0) == (16, 20)
    assert bv.bar_span(NS(started=None, completed=None), wall, 20, now=10.0) is None
    tiny = NS(started=4.999, completed=5.0)
    start, end = bv.bar_span(tiny, wall, 20, now=10.0)
    assert end - start >= 1  # every step that ran gets at least one cell


def test_miss_text():
    assert bv.miss_text(None) == ""
    assert bv.miss_text({"kind": "files-changed", "detail": "", "files": ["a", "b", "c", "d"]}) == \
        "files changed: a, b, c +1"
    assert bv.miss_text({"kind": "build-arg-changed", "detail": "APP_VERSION 1 -> 2"}) == \
        "build arg changed: APP_VERSION 1 -> 2"
    changed = {"kind": "files-changed", "detail": "files under src/ changed since build #2", "files": ["src/a.txt"]}
    assert bv.miss_text(changed) == "files changed: files under src/ changed since build #2"
    assert bv.miss_text(changed, short=True) == "files changed: src/a.txt"


def test_cold_build_and_first_build_are_told_apart():
    cold = replayed("import-unauthorized")
    failure = bv.import_failure(cold)
    assert failure is not None
    outcome, fix = failure
    assert outcome.state == "unauthorized" and "Registries" in fix
    assert not bv.first_build(cold)
    first = replayed("cold-empty-ref")
    assert bv.import_failure(first) is None
    assert bv.first_build(first)
    warm = replayed("warm-from-registry")
    assert bv.import_failure(warm) is None and not bv.first_build(warm)


def test_snapshot_of_a_finished_model():
    snap = bv.Snapshot.take(replayed("file-change"))
    assert snap.status == "success"
    assert snap.summary["cached"] == 5 and snap.summary["steps"] == 8
    assert snap.root_misses == ["[build 1/2] COPY src/ ./src/"]
    assert bv.Snapshot.take(None).status == "idle"


def test_new_log_lines_appends_then_resets_after_a_gap():
    buf = LogBuffer(head_lines=2, tail_lines=3)
    buf.write(b"one\ntwo\n")
    lines, written, reset = bv.new_log_lines(buf, 0)
    assert (lines, written, reset) == (["one", "two"], 2, False)
    buf.write(b"three\n")
    assert bv.new_log_lines(buf, written) == (["three"], 3, False)
    assert bv.new_log_lines(buf, 3) == ([], 3, False)
    buf.write(b"4\n5\n6\n7\n")  # the tail keeps 3: lines in between are dropped
    lines, written, reset = bv.new_log_lines(buf, 3)
    assert written == 7 and lines[-1] == "7"
    lines, written, reset = bv.new_log_lines(buf, 0)
    assert reset and lines[:2] == ["one", "two"] and "lines not kept" in lines[2]
