"""The Build screen's logs pane: new output is appended and followed, switching steps replaces
the lines, and neither lays out the screen again unless a scrollbar appears or goes (the pane's
height never depends on its content)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.cells import cell_len
from textual.app import App, ComposeResult

from railpack_tui.core.model import LogBuffer
from railpack_tui.tui.widgets.step_logs import StepLogs


@dataclass(eq=False)
class FakeStep:
    id: str
    name: str
    state: str = "running"
    logs: LogBuffer = field(default_factory=LogBuffer)

    def say(self, *lines: str) -> None:
        for line in lines:
            self.logs.write(line.encode() + b"\n")


class LogsApp(App):
    CSS = "StepLogs { height: 10; overflow: auto; }"  # as on the Build screen

    def compose(self) -> ComposeResult:
        yield StepLogs(id="logs")


def count_layouts(widget) -> list[int]:
    """Record each refresh of `widget` that asks for a screen layout."""
    asked: list[int] = []
    refresh = widget.refresh

    def recording(*regions, layout: bool = False, **kwargs):
        if layout:
            asked.append(1)
        return refresh(*regions, layout=layout, **kwargs)

    widget.refresh = recording
    return asked


def shown_lines(app: App) -> list[str]:
    return [strip.text.strip(" ▁▂▃▄▅▆▇█▊▋▌▍▎▏▐") for strip in app.screen._compositor.render_strips()]


async def test_new_output_is_followed_without_laying_out_the_screen():
    app = LogsApp()
    async with app.run_test(size=(80, 12)) as pilot:
        logs = app.query_one(StepLogs)
        step = FakeStep("a", "RUN make")
        step.say(*(f"line {i}" for i in range(30)))
        logs.show_step(step)
        await pilot.pause()
        assert logs.show_vertical_scrollbar
        asked = count_layouts(logs)
        for batch in range(5):
            step.say(*(f"more {batch}.{i}" for i in range(40)))
            logs.show_step(step)
            await pilot.pause()
            assert f"more {batch}.39" in shown_lines(app)  # the tail is shown
        assert asked == []
        assert logs.line_count == 230 and logs.virtual_size.height == 230


async def test_switching_steps_replaces_the_lines_in_one_go():
    app = LogsApp()
    async with app.run_test(size=(80, 12)) as pilot:
        logs = app.query_one(StepLogs)
        first, second = FakeStep("a", "RUN one"), FakeStep("b", "RUN two")
        first.say(*(f"first {i}" for i in range(50)))
        second.say(*(f"second {i}" for i in range(50)))
        logs.show_step(first)
        await pilot.pause()
        asked = count_layouts(logs)
        logs.show_step(second)  # emptied and filled: the scrollbar never goes away
        await pilot.pause()
        assert asked == []
        assert logs.lines[0] == "second 0" and logs.line_count == 50
        assert "second 49" in shown_lines(app) and not any("first" in line for line in shown_lines(app))

        empty = FakeStep("c", "COPY . .", state="cached")
        logs.show_step(empty)  # now the scrollbar goes: the pane shows the placeholder
        await pilot.pause()
        assert list(logs.lines) == ["(cached: the step did not run, so it has no output)"]
        assert not logs.show_vertical_scrollbar

        logs.show_step(None)
        await pilot.pause()
        assert logs.line_count == 0 and logs.virtual_size.height == 0


async def test_a_batch_larger_than_the_pane_keeps_only_its_last_lines_and_measures_wide_ones():
    app = LogsApp()
    async with app.run_test(size=(80, 12)) as pilot:
        logs = app.query_one(StepLogs)
        logs.write_lines([f"x{i}" for i in range(logs.max_lines + 500)])
        await pilot.pause()
        assert logs.line_count == logs.max_lines
        assert logs.lines[0] == "x500" and logs.lines[-1] == f"x{logs.max_lines + 499}"

        logs.clear()
        wide = "世界 " * 30 + "end"
        logs.write_lines(["short", wide, "\ttabbed"])
        await pilot.pause()
        assert logs.virtual_size == (cell_len(wide), 3)  # 2 cells a wide character, not len()
        assert logs.virtual_size.width > len(wide)


async def test_lines_render_as_the_log_renders_them_plain_or_not():
    """The printable-ASCII fast path gives the strips Log's Text render gives; tabs, control
    characters, wide characters and empty lines still go through Log's own path."""
    from textual.widgets import Log

    app = LogsApp()
    async with app.run_test(size=(60, 12)) as pilot:
        logs = app.query_one(StepLogs)
        lines = ["#7 0.351 plain build output", "", "tab\there", "bell\x07 and \x1b[31mescape", "wide 日本語 ✓",
                 "x" * 80]
        logs.write_lines(lines, scroll_end=False)
        await pilot.pause()
        style = logs.rich_style
        for y, text in enumerate(lines):
            ours = logs._render_line(y, 0, 60)
            theirs = Log._render_line(logs, y, 0, 60)
            assert list(ours) == list(theirs), text
            assert ours.cell_length == theirs.cell_length == 60
        assert logs._render_line(len(lines), 0, 60).text == " " * 60
        assert style == logs.rich_style
