"""The History screen and the compare view: snapshots of a project's recorded builds (six builds
replayed from tests/fixtures/recorded through the real model, history and explain code) and of
two builds side by side, at 120x40 and 80x24; and what the compare pairs and reports."""

from __future__ import annotations

import time

import pytest
from textual.widgets import DataTable

from railpack_tui.tui.screens.history import HistoryScreen
from railpack_tui.tui.screens.history_compare import CompareScreen
from railpack_tui.tui.widgets.history_diff import compare, pair_steps
from support.tui_fixtures import fill_history, rows_on_screen, settle
from tui_support import PROJECT, make_app

SIZES = {"120x40": (120, 40), "80x24": (80, 24)}


@pytest.fixture()
def recorded(tmp_path, monkeypatch):
    """Six recorded builds of PROJECT in a private history database; times shown in UTC."""
    monkeypatch.setenv("RAILPACK_TUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    db = fill_history(tmp_path / "data" / "history.sqlite3", str(PROJECT))
    yield db
    db.close()
    monkeypatch.undo()
    time.tzset()


async def _on_history(pilot):
    await pilot.press("4")
    await settle(pilot)


def _compare(*keys):
    async def run_before(pilot):
        await _on_history(pilot)
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        await settle(pilot)
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", ["120x40", "80x24"])
def test_history_with_several_runs(snap_compare, tmp_path, recorded, size):
    assert snap_compare(make_app(tmp_path), terminal_size=SIZES[size], run_before=_on_history)


@pytest.mark.parametrize("size", ["120x40", "80x24"])
def test_compare_file_change_with_warm_build(snap_compare, tmp_path, recorded, size):
    # build #3 (src/main.txt edited) against #2 (warm): COPY src/ lost the cache, and why
    assert snap_compare(make_app(tmp_path), terminal_size=SIZES[size], run_before=_compare("down", "down", "down", "enter"))


def test_compare_marked_builds(snap_compare, tmp_path, recorded):
    # mark #1 (the first, cold build), then compare #6 (warm) with it
    assert snap_compare(make_app(tmp_path), terminal_size=(120, 40),
                        run_before=_compare(*["down"] * 5, "space", *["up"] * 5, "enter"))


def test_empty_history(snap_compare, tmp_path, monkeypatch):
    monkeypatch.setenv("RAILPACK_TUI_DATA_DIR", str(tmp_path / "data"))
    assert snap_compare(make_app(tmp_path), terminal_size=(80, 24), run_before=_on_history)


async def test_rows_and_sparklines_follow_the_database(tmp_path, recorded):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await _on_history(pilot)
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        table = screen.query_one("#history-runs", DataTable)
        assert [table.get_row_at(i)[1] for i in range(table.row_count)] == ["6", "5", "4", "3", "2", "1"]
        assert screen.query_one("#trend-hit").data == [0.0, 1.0, 0.625, 0.75, 0.0, 1.0]


async def test_enter_compares_with_the_build_before(tmp_path, recorded):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await _on_history(pilot)
        await pilot.press("down", "enter")  # #5 against #4
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert (screen.diff.a.id, screen.diff.b.id) == (4, 5)
        assert "cache import: ok → unauthorized" in screen.diff.changes
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)


def test_pairing_follows_stage_and_index_when_a_build_arg_renames_a_run(recorded):
    runs = {r.id: r for r in recorded.runs(PROJECT)}
    diff = compare(runs[3], runs[4])  # APP_VERSION 1.0.0 -> 2.0.0
    renamed = [p for p in diff.pairs if p.a is not None and p.b is not None and p.a.name != p.b.name]
    assert [(p.a.name[:30], p.b.name[:30]) for p in renamed] == [
        ('[build 2/2] RUN echo "building', '[build 2/2] RUN echo "building')]
    assert "1.0.0" in renamed[0].a.name and "2.0.0" in renamed[0].b.name
    assert len(diff.pairs) == 8  # nothing unmatched
    assert "build arg APP_VERSION added: 2.0.0" in diff.changes


def test_files_changed_and_direction(recorded):
    runs = {r.id: r for r in recorded.runs(PROJECT)}
    diff = compare(runs[2], runs[3])
    assert "files modified: src/main.txt" in diff.changes
    worse = [p.name for p in diff.pairs if p.direction == "worse"]
    assert worse[0] == "[build 1/2] COPY src/ ./src/"
    copy = next(p for p in diff.pairs if p.name == "[build 1/2] COPY src/ ./src/")
    assert copy.b.miss["kind"] == "files-changed"


def test_pair_steps_keeps_steps_only_in_one_build():
    from types import SimpleNamespace as S

    a = S(steps=[S(name="[1/2] RUN a", stage=None, index=1, total=2, state="cached"),
                 S(name="[2/2] RUN b", stage=None, index=2, total=2, state="cached")])
    b = S(steps=[S(name="[1/1] RUN a", stage=None, index=1, total=1, state="cached")])
    pairs = pair_steps(a, b)
    assert [(p.a.name if p.a else None, p.b.name if p.b else None) for p in pairs] == [
        ("[1/2] RUN a", "[1/1] RUN a"), ("[2/2] RUN b", None)]
    assert [p.changed for p in pairs] == [True, True]


async def _compare_3_with_2(pilot):
    """History, then Enter on build #3: compared with #2. The compare screen and its table."""
    await _on_history(pilot)
    await pilot.press("down", "down", "down", "enter")
    await settle(pilot)
    return pilot.app.screen, pilot.app.screen.query_one("#compare-table", DataTable)


async def test_compare_swap_and_only_changed(tmp_path, recorded):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen, table = await _compare_3_with_2(pilot)
        assert table.row_count == 8
        await pilot.press("f")
        await pilot.pause()
        assert [table.get_row_at(i)[1].plain[:28] for i in range(table.row_count)] == [
            "[build 1/2] COPY src/ ./src/", '[build 2/2] RUN echo "buildi', "[final 1/1] COPY --from=buil"]
        await pilot.press("s")
        await pilot.pause()
        assert (screen.diff.a.id, screen.diff.b.id) == (3, 2)
        assert [str(c.label) for c in table.columns.values()][2] == "#3"


async def test_compare_with_no_builds_does_not_speak_of_a_first_one(tmp_path, monkeypatch):
    monkeypatch.setenv("RAILPACK_TUI_DATA_DIR", str(tmp_path / "data"))
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await _on_history(pilot)
        commands = {c.title: c for c in app.screen.screen_commands()}
        commands["History: compare"].callback()  # the command palette's entry
        await pilot.pause()
        messages = [str(n.message) for n in app._notifications]
        assert any("none is recorded for this project yet" in m for m in messages), messages
        assert not any("this is the first one recorded" in m for m in messages)


async def test_only_changed_keeps_the_highlighted_step(tmp_path, recorded):
    """f (only changed) and f again keep the cursor, and the pane below, on the same step; before,
    the cursor stayed at the same row number, on another step (or the last one)."""
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen, table = await _compare_3_with_2(pilot)

        def highlighted() -> str:
            return table.get_row_at(table.cursor_row)[1].plain[:16]

        await pilot.press("down")  # from the first changed step to the next one
        await pilot.pause()
        assert highlighted() == "[build 2/2] RUN "
        for _ in range(2):
            await pilot.press("f")
            await pilot.pause()
            assert highlighted() == "[build 2/2] RUN "
            assert str(screen.query_one("#compare-why").render()).startswith("[build 2/2] RUN")


@pytest.mark.parametrize("size", [(40, 10), (120, 14)])
async def test_history_and_compare_show_builds_and_steps_on_a_short_terminal(tmp_path, recorded, size):
    """Below 20 rows the trends, the hints and the 'why' pane give way: before, at 40x10 the
    trends took every row and the builds table showed none, and the compare showed no step."""
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await _on_history(pilot)
        table = app.screen.query_one("#history-runs", DataTable)
        assert table.row_count == 6
        assert rows_on_screen(app, table) >= 3
        await pilot.press("enter")
        await settle(pilot)
        assert rows_on_screen(app, app.screen.query_one("#compare-table", DataTable)) >= 2


async def test_a_history_notice_is_shown_once_not_at_every_reload(tmp_path, monkeypatch):
    """A history database that could not be used is set aside once, and said once: it was said
    again at every reload (every visit, every build), each time as new."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "history.sqlite3").write_bytes(b"not a database" * 400)
    monkeypatch.setenv("RAILPACK_TUI_DATA_DIR", str(data))
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await _on_history(pilot)
        for _ in range(2):
            await pilot.press("ctrl+r")
            await settle(pilot)
        said = [str(n.message) for n in app._notifications if "set aside" in str(n.message)]
        assert len(said) == 1, said
