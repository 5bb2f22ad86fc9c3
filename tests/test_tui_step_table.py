"""The Build screen's step table: rows appear and change in place, a frame renders only the rows
whose cells changed (scrolling and the cursor reuse what was rendered), the cursor keys, the `/`
filter, selection messages, and the column layout at 80 and 200 columns."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import App, ComposeResult

from railpack_tui.tui.widgets.step_table import StepTable


@dataclass(eq=False)
class FakeStep:
    id: str
    name: str
    state: str = "pending"
    started: float | None = None
    completed: float | None = None
    duration_s: float | None = None
    pulled_bytes: int = 0
    miss: dict | None = None


class TableApp(App):
    def __init__(self) -> None:
        super().__init__()
        self.highlighted: list[str] = []
        self.selected: list[str] = []

    def compose(self) -> ComposeResult:
        yield StepTable(id="steps")

    def on_step_table_row_highlighted(self, event: StepTable.RowHighlighted) -> None:
        self.highlighted.append(event.row_key)

    def on_step_table_row_selected(self, event: StepTable.RowSelected) -> None:
        self.selected.append(event.row_key)


async def shown(pilot, table: StepTable, steps: list, now: float) -> None:
    table.show(steps, now)
    await pilot.pause()


def screen_lines(app: App) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


def screen_text(app: App) -> str:
    return "\n".join(screen_lines(app))


def done_steps(n: int) -> list[FakeStep]:
    return [FakeStep(f"s{i}", f"[{i + 1}/{n}] RUN step number {i}", "executed", started=100.0 + i,
                     completed=101.0 + i, duration_s=1.0) for i in range(n)]


async def test_changed_cells_and_appended_rows_are_painted():
    app = TableApp()
    async with app.run_test(size=(110, 10)) as pilot:
        table = app.query_one(StepTable)
        steps = [FakeStep("a", "[1/3] RUN first", "running", started=100.0), FakeStep("b", "[2/3] RUN second")]
        await shown(pilot, table, steps, 101.0)
        before = screen_text(app)
        assert "RUNNING" in before and "WAIT" in before and "RUN second" in before

        steps[0].state, steps[0].completed, steps[0].duration_s = "executed", 104.0, 4.0
        steps.append(FakeStep("c", "[3/3] RUN third", "cached", started=100.5, completed=100.5))
        await shown(pilot, table, steps, 105.0)
        after = screen_text(app)
        assert "RUNNING" not in after  # the changed badge was repainted
        assert "DONE" in after and "4.0s" in after
        assert "WAIT" in after and "RUN second" in after  # the untouched row is still there
        assert "CACHED" in after and "RUN third" in after  # the appended row is painted
        assert list(table.keys()) == ["a", "b", "c"]
        assert [table.get_row_at(i)[0].plain for i in range(table.row_count)] == ["DONE", "WAIT", "CACHED"]


async def test_a_frame_renders_only_the_rows_that_changed():
    app = TableApp()
    async with app.run_test(size=(110, 12)) as pilot:
        table = app.query_one(StepTable)
        steps = done_steps(6)
        await shown(pilot, table, steps, 200.0)
        assert table.row_renders == 6  # each row once

        table.show(steps, 200.0)  # nothing changed
        await pilot.pause()
        assert table.row_renders == 6

        steps[3].pulled_bytes = 5_300_000  # one cell of one row (not the cursor's)
        await shown(pilot, table, steps, 200.0)
        assert table.row_renders == 7
        assert "5.3MB" in screen_lines(app)[4]  # header, then rows 0..3

        steps.append(FakeStep("new", "[7/7] RUN appended", "cached", started=100.0, completed=100.0))
        await shown(pilot, table, steps, 200.0)
        assert table.row_renders == 8  # only the new row
        assert "RUN appended" in screen_lines(app)[7]


async def test_scrolling_and_the_cursor_reuse_rendered_rows():
    app = TableApp()
    async with app.run_test(size=(110, 8)) as pilot:  # room for the header and 7 of 30 rows
        table = app.query_one(StepTable)
        table.focus()
        steps = done_steps(30)
        await shown(pilot, table, steps, 200.0)
        first = table.row_renders
        assert first == 7  # only what is visible

        await pilot.press("end")  # scrolls to the bottom: the rows shown there are rendered once
        await pilot.pause()
        assert table.cursor_row == 29 and table.selected_key() == "s29"
        assert "RUN step number 29" in screen_lines(app)[-1]
        at_bottom = table.row_renders

        await pilot.press("home")  # back up: every row there was rendered before
        await pilot.pause()
        assert table.cursor_row == 0 and "RUN step number 0" in screen_lines(app)[1]
        # the old cursor row and the new one (cursor look) may render; nothing else does
        assert table.row_renders <= at_bottom + 2

        again = table.row_renders
        await pilot.press("end", "home")
        await pilot.pause()
        assert table.row_renders == again  # both looks of both rows are kept


async def test_cursor_keys_move_the_selection_and_mark_a_user_move():
    app = TableApp()
    async with app.run_test(size=(110, 12)) as pilot:  # header + 11 rows
        table = app.query_one(StepTable)
        table.focus()
        await shown(pilot, table, done_steps(40), 200.0)
        assert table.cursor_row == 0 and not table.user_moved
        await pilot.press("down", "down")
        assert table.cursor_row == 2 and table.user_moved
        await pilot.press("up")
        assert table.cursor_row == 1
        await pilot.press("pagedown")
        assert table.cursor_row == 12  # a page is the rows below the header
        await pilot.press("pageup")
        assert table.cursor_row == 1
        await pilot.press("end")
        assert table.cursor_row == 39
        await pilot.press("down")  # stays on the last row
        assert table.cursor_row == 39
        await pilot.press("home", "up")
        assert table.cursor_row == 0
        await pilot.pause()
        assert app.highlighted == ["s0", "s1", "s2", "s1", "s12", "s1", "s39", "s0"]
        await pilot.press("enter")
        await pilot.pause()
        assert app.selected == ["s0"]


async def test_select_key_does_not_count_as_a_user_move_and_a_click_does():
    app = TableApp()
    async with app.run_test(size=(110, 12)) as pilot:
        table = app.query_one(StepTable)
        await shown(pilot, table, done_steps(5), 200.0)
        assert table.select_key("s3") and table.cursor_row == 3 and not table.user_moved
        assert not table.select_key("nope") and table.cursor_row == 3
        await pilot.click(StepTable, offset=(5, 2))  # header is line 0: line 2 is the second row
        await pilot.pause()
        assert table.cursor_row == 1 and table.user_moved
        await pilot.click(StepTable, offset=(5, 2))  # a click on the cursor's row selects it
        await pilot.pause()
        assert app.selected == ["s1"]


async def test_filter_shows_matching_rows_and_keeps_the_selection_when_it_still_matches():
    app = TableApp()
    async with app.run_test(size=(110, 12)) as pilot:
        table = app.query_one(StepTable)
        steps = [FakeStep("a", "[1/4] FROM busybox", "cached", started=1.0, completed=1.0),
                 FakeStep("b", "[2/4] COPY src", "executed", started=1.0, completed=2.0, duration_s=1.0),
                 FakeStep("c", "[3/4] RUN make", "cached", started=1.0, completed=1.0),
                 FakeStep("d", "[4/4] RUN test", "running", started=2.0)]
        table.show(steps, 3.0)
        table.select_key("c")
        await pilot.pause()

        table.filter_text = "cached"
        await shown(pilot, table, steps, 3.0)
        assert list(table.keys()) == ["a", "c"] and table.selected_key() == "c"
        text = screen_text(app)
        assert "FROM busybox" in text and "RUN make" in text and "COPY src" not in text

        table.filter_text = "run test"  # the selected step is filtered out: the first row takes the cursor
        await shown(pilot, table, steps, 3.0)
        assert list(table.keys()) == ["d"] and table.selected_key() == "d"
        assert app.highlighted[-1] == "d"

        table.filter_text = ""
        await shown(pilot, table, steps, 3.0)
        assert list(table.keys()) == ["a", "b", "c", "d"] and table.selected_key() == "d"
        assert "COPY src" in screen_text(app)


async def test_column_layout_at_80_and_200_columns():
    for width, why in ((80, False), (200, True)):
        app = TableApp()
        async with app.run_test(size=(width, 6)) as pilot:
            table = app.query_one(StepTable)
            step = FakeStep("a", "[1/1] RUN a step with a name long enough to be cut at eighty columns " * 2,
                            "executed", started=0.0, completed=10.0, duration_s=10.0, pulled_bytes=1_200_000,
                            miss={"kind": "files-changed", "detail": "src/main.txt changed", "files": ["src/main.txt"]})
            await shown(pilot, table, [step], 10.0)
            header, row = screen_lines(app)[:2]
            assert len(header) == len(row) == width
            labels = ["State", "Step", "Time", "Pulled", "Timeline"] + (["Why it ran"] if why else [])
            positions = [header.index(f" {label}") for label in labels]
            assert positions == sorted(positions)
            assert ("Why it ran" in header) is why
            name_w, timeline_w, why_w = table._widths()
            assert positions[1] - positions[0] == 10 + 2  # State is 10 wide, plus one column of padding a side
            assert positions[2] - positions[1] == name_w + 2
            assert positions[4] - positions[3] == 7 + 2
            assert row.startswith(" DONE ")
            assert "…" in row  # the long name is cut with an ellipsis, on one line
            assert " 10s " in row and "1.2MB" in row
            bar = row[positions[4] + 1: positions[4] + 1 + timeline_w]
            assert bar.strip("█") == "" and bar.count("█") == timeline_w  # the only step spans the wall
            if why:
                assert why_w >= 24 and "src/main.txt" in row[positions[5]:]


def test_the_fast_cell_path_renders_what_rich_renders():
    from rich.console import Console
    from rich.padding import Padding
    from rich.style import Style
    from rich.text import Text
    from textual.renderables.styled import Styled
    from textual.strip import Strip

    from railpack_tui.tui.widgets.step_table import cell_segments

    console = Console(width=200)
    pre = Style(bgcolor="red", bold=True) + Style.from_meta({"row": 1, "column": 2})
    cells = [Text("DONE", style="green"), Text("⠋ RUNNING", style="bold #ff0000"), Text("1.2s", justify="right"),
             Text("5.3MB", justify="right", style="blue"), Text("", justify="right"),
             Text("[1/2] RUN make", no_wrap=True, overflow="ellipsis"),
             Text("files changed: src/main.txt", no_wrap=True, overflow="ellipsis", style="italic"),
             Text("   ████   ", style="blue"), Text("", no_wrap=True, overflow="ellipsis", style="italic"),
             Text("ünï 世界世界 wide", no_wrap=True, overflow="ellipsis")]
    fast_paths = 0
    for width in (1, 5, 9, 10, 12, 30):
        for cell in cells:
            options = console.options.update_dimensions(width + 2, 1).update(no_wrap=True)
            rich = console.render_lines(Styled(Padding(cell, (0, 1)), pre_style=pre, post_style=Style.null()), options)
            fast = cell_segments(cell, width, pre, console)
            if fast is not None:
                fast_paths += 1
                assert list(Strip(fast).simplify()) == list(Strip(rich[0]).simplify()), (width, cell.plain)
    assert fast_paths >= 50  # all but the right-justified cells wider than their column
    dim = Text("[2/2] RUN pending")
    dim.stylize("dim")
    assert cell_segments(dim, 30, pre, console) is None  # spans take Rich's path


async def test_following_scrolls_in_jumps_and_the_user_scrolls_line_by_line():
    app = TableApp()
    async with app.run_test(size=(110, 12)) as pilot:  # header + 11 rows
        table = app.query_one(StepTable)
        await shown(pilot, table, done_steps(40), 200.0)
        table.select_key("s11")  # the screen follows the running step below the view
        await pilot.pause()
        assert table.scroll_y == 11 - 11 // 4  # it lands a quarter of the way down
        for i in range(12, 20):  # the next steps are in view already: no scroll, no repaint of the rest
            table.select_key(f"s{i}")
            await pilot.pause()
            assert table.scroll_y == 9
        table.focus()
        await pilot.press("down")  # s20 is just below the view: the user scrolls by one line
        await pilot.pause()
        assert table.cursor_row == 20 and table.scroll_y == 10
        assert "RUN step number 20" in screen_lines(app)[-1]


class SwapApp(App):
    """The Build screen's steps pane: an empty state the table replaces when steps appear."""

    CSS = "#empty, StepTable { height: 1fr; border: round $foreground 30%; }"

    def compose(self) -> ComposeResult:
        from textual.widgets import Static

        yield Static("no steps yet", id="empty")
        table = StepTable(id="steps")
        table.display = False
        yield table


async def first_appearance_layouts(expect: bool) -> tuple[int, StepTable]:
    from test_tui_one_layout import layouts_counted

    app = SwapApp()
    async with app.run_test(size=(120, 24)) as pilot:
        await pilot.pause()
        empty, table = app.query_one("#empty"), app.query_one(StepTable)
        count = layouts_counted(app)
        table.show(done_steps(60), 200.0)
        if expect:
            table.expect_size(empty.outer_size)
        empty.display, table.display = False, True
        for _ in range(4):
            await pilot.pause()
        assert table.show_vertical_scrollbar and not table.show_horizontal_scrollbar
        assert table.virtual_size.width == table._table_width() <= table.scrollable_content_region.width
        return count[0], table


async def test_a_table_replacing_the_empty_state_is_laid_out_once_with_its_scrollbar():
    """Hidden until the first steps arrive, the table's size is not known: told the size it is
    about to get (the empty state's), its first layout has its scrollbar and its columns, where
    otherwise a second layout found them out."""
    expected, table = await first_appearance_layouts(expect=True)
    unexpected, _ = await first_appearance_layouts(expect=False)
    assert expected == 1
    assert unexpected > expected
