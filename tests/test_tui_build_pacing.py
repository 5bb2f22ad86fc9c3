"""The Build screen while a build streams: progress that arrives less than FRAME_S after the last
redraw is kept and drawn FRAME_S after it (by a timer; the 10 Hz tick is the backstop), the newest
snapshot winning; a snapshot that arrives later than that, a new build and the build's end are drawn
at once. A redraw that moves the cursor to the running step draws that step's logs itself, so the
highlight it posts costs no second frame. Mostly no timing: FRAME_S is made an hour (every redraw
is "just now") or zero (every redraw is long ago), and the timer's callback is called by hand."""

from __future__ import annotations

import gc

import pytest

from railpack_tui.core.model import BuildModel
from railpack_tui.tui import buildview as bv
from railpack_tui.tui.screens import build as build_screen
from railpack_tui.tui.state import BuildJob
from tui_support import make_app, stream

FINAL = ["CACHED"] * 5 + ["DONE"] * 3


def states(app) -> list[str]:
    table = app.screen.query_one("#steps")
    return [table.get_row_at(i)[0].plain.split()[-1] for i in range(table.row_count)]


@pytest.fixture
def every_redraw_is_recent(monkeypatch):
    monkeypatch.setattr(build_screen, "FRAME_S", 3600.0, raising=False)


async def start_streaming(app, pilot) -> tuple[BuildModel, BuildJob, list[str]]:
    """A build whose worker is feeding the model (as the runner does): its first snapshot is drawn,
    then the rest of the stream is fed. Returns the model, the job and the table's states as drawn."""
    lines = stream("file-change").read_text().splitlines()
    app.screen.ticker.pause()
    model = BuildModel()
    job = BuildJob(request=None, model_override=model, handle=object(), outcome="running")
    app.state.current = job
    for line in lines[:20]:
        model.feed_line(line)
    job.event_seq = job.snap_seq = 1
    app.build_progress.publish((job, bv.Snapshot.take(model)))  # a new build: drawn at once
    await pilot.pause()
    first = states(app)
    assert first and first != FINAL
    for line in lines[20:]:
        model.feed_line(line)
    return model, job, first


async def test_a_flood_is_kept_and_drawn_frame_s_after_the_last_redraw_the_newest_winning(
        tmp_path, every_redraw_is_recent, monkeypatch):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        model, job, first = await start_streaming(app, pilot)
        newest = bv.Snapshot.take(model)
        app.build_progress.publish((job, bv.Snapshot(steps=newest.steps[:1])))
        app.build_progress.publish((job, newest))  # replaces the kept one
        await pilot.pause()
        assert states(app) == first  # kept
        app.screen._tick()
        await pilot.pause()
        assert states(app) == first  # the tick draws it only once FRAME_S has passed
        app.screen._draw_pending()  # what the timer set for FRAME_S after the last redraw calls
        await pilot.pause()
        assert states(app) == FINAL

        app.build_progress.publish((job, bv.Snapshot(steps=newest.steps[:1])))
        await pilot.pause()
        assert states(app) == FINAL  # kept again
        monkeypatch.setattr(build_screen, "FRAME_S", 0.0)
        app.screen._tick()  # the backstop, should the timer never come
        await pilot.pause()
        assert states(app) == FINAL[:1]


async def test_progress_after_a_quiet_frame_is_drawn_at_once(tmp_path, monkeypatch):
    monkeypatch.setattr(build_screen, "FRAME_S", 0.0, raising=False)
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        model, job, first = await start_streaming(app, pilot)
        app.build_progress.publish((job, bv.Snapshot.take(model)))
        await pilot.pause()
        assert states(app) == FINAL


async def test_the_timer_draws_a_kept_snapshot(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        model, job, first = await start_streaming(app, pilot)
        app.build_progress.publish((job, bv.Snapshot.take(model)))  # moments after the first: kept
        await pilot.pause()
        for _ in range(100):  # the timer fires FRAME_S (0.1 s) after the first redraw
            if states(app) == FINAL:
                break
            await pilot.pause(0.05)
        assert states(app) == FINAL


async def test_following_the_running_step_draws_its_logs_once(tmp_path, every_redraw_is_recent):
    """The redraw that moves the cursor to the newly running step shows that step's logs; the
    highlight it posts finds them drawn (before, it drew them again: a second frame per redraw)."""
    lines = stream("file-change").read_text().splitlines()
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.screen.ticker.pause()
        model = BuildModel()
        job = BuildJob(request=None, model_override=model, handle=object(), outcome="running")
        screen = app.screen
        for line in lines[:25]:  # [deps 3/3] RUN is running
            model.feed_line(line)
        app.build_progress.publish((job, bv.Snapshot.take(model)))
        await pilot.pause()
        logs, table = screen.query_one("#logs"), screen.query_one("#steps")
        assert "deps 3/3" in str(logs.border_title)
        drawn: list[str | None] = []
        original = screen._draw_logs
        screen._draw_logs = lambda: (drawn.append(table.selected_key()), original())[1]
        for line in lines[25:45]:  # now [build 2/2] RUN is
            model.feed_line(line)
        job.snapshot = bv.Snapshot.take(model)
        screen.redraw(job.snapshot)
        await pilot.pause()
        await pilot.pause()
        assert "build 2/2" in str(logs.border_title)
        assert drawn == [logs.step_id]


async def test_the_end_of_a_flood_is_drawn_at_once(tmp_path, every_redraw_is_recent):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        model, job, first = await start_streaming(app, pilot)
        job.snapshot = bv.Snapshot.take(model)
        app.build_progress.publish((job, job.snapshot))
        await pilot.pause()
        assert states(app) == first
        model.finish(0)
        job.outcome = "success"
        app.build_progress.publish((job, None))  # what BuildFinished publishes
        await pilot.pause()
        assert states(app) == FINAL


async def test_the_objects_of_a_started_dashboard_are_kept_out_of_the_collectors_scans(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.pause()
        assert getattr(build_screen, "_frozen", False) and gc.get_freeze_count() > 10_000
