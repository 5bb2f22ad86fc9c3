"""The Build screen while a build streams: progress that floods in faster than FRAME_S is drawn by
the next tick (the newest snapshot wins), not once per snapshot; a snapshot that covers the
worker's latest report (the stream went quiet), a new build and the build's end are drawn at once.
No timing: FRAME_S is made an hour, so every redraw is "just now", and the tick is driven by hand."""

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


async def test_a_flood_is_drawn_by_the_tick_and_a_quiet_stream_at_once(tmp_path, every_redraw_is_recent):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        model, job, first = await start_streaming(app, pilot)
        job.snap_seq, job.event_seq = 2, 3  # the worker has moved on since this snapshot
        newest = bv.Snapshot.take(model)
        app.build_progress.publish((job, bv.Snapshot(steps=newest.steps[:1])))
        app.build_progress.publish((job, newest))  # replaces the kept one
        await pilot.pause()
        assert states(app) == first  # kept for the tick
        app.screen._tick()
        await pilot.pause()
        assert states(app) == FINAL

        job.snap_seq = job.event_seq = 4  # covers the latest report: the stream went quiet
        app.build_progress.publish((job, bv.Snapshot(steps=newest.steps[:1])))
        await pilot.pause()
        assert states(app) == FINAL[:1]


async def test_the_end_of_a_flood_is_drawn_at_once(tmp_path, every_redraw_is_recent):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        model, job, first = await start_streaming(app, pilot)
        job.snap_seq, job.event_seq = 1, 2
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
