"""The step table's styled lines are kept per content line (LineMemoStylesCache):
what they paint is what Textual's own StylesCache paints, through scrolling, focus moving away
and back, a resize and a theme change, and a line repainted from the same content in the same
surroundings is the line painted before (the same object)."""

from __future__ import annotations

from textual._styles_cache import StylesCache
from textual.app import App, ComposeResult
from textual.widgets import Input

from railpack_tui.tui.widgets.line_memo import LineMemoStylesCache
from railpack_tui.tui.widgets.step_logs import StepLogs
from railpack_tui.tui.widgets.step_table import StepTable
from test_tui_step_table import done_steps


class PanesApp(App):
    CSS = """
    StepTable { height: 14; border: round $foreground 30%; }
    StepTable:focus { border: round $primary; }
    StepLogs { height: 10; border: round $foreground 30%; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        yield StepTable(id="steps")
        yield Input(id="box")
        yield StepLogs(id="logs")


def textual_lines(widget) -> list:
    """What Textual's own StylesCache paints for the widget now."""
    plain = StylesCache()
    return plain.render_widget(widget, widget.size.region)


def memo_lines(widget) -> list:
    widget._set_dirty()  # every line through render_line, as after a full repaint
    return widget.render_lines(widget.size.region)


async def test_kept_lines_are_what_textual_paints_through_scrolls_focus_resizes_and_themes():
    app = PanesApp()
    async with app.run_test(size=(110, 30)) as pilot:
        table, logs = app.query_one(StepTable), app.query_one(StepLogs)
        assert isinstance(table._styles_cache, LineMemoStylesCache)
        logs._styles_cache = LineMemoStylesCache()  # not the logs pane's own (its lines are new on each frame of a busy step)
        table.show(done_steps(40), 200.0)
        logs.write_lines([f"line {i} " + "x" * (i % 70) for i in range(300)])
        table.focus()
        await pilot.pause()

        def check() -> None:
            for widget in (table, logs):
                assert memo_lines(widget) == textual_lines(widget), widget.id

        check()
        for row in (30, 5, 39, 0):
            table.select_key(f"s{row}")  # scrolls
            await pilot.pause()
            check()
        logs.scroll_to(y=100, animate=False)
        await pilot.pause()
        check()
        app.query_one("#box", Input).focus()  # the table's focus look goes
        await pilot.pause()
        check()
        table.focus()  # and comes back: the kept lines of that look are used again
        await pilot.pause()
        check()
        table.styles.height = 11
        await pilot.pause()
        check()
        app.theme = "textual-light"
        await pilot.pause()
        check()


async def test_a_line_repainted_in_the_same_surroundings_is_the_line_painted_before():
    app = PanesApp()
    async with app.run_test(size=(110, 30)) as pilot:
        table = app.query_one(StepTable)
        table.show(done_steps(40), 200.0)
        table.focus()
        await pilot.pause()
        first = memo_lines(table)
        again = memo_lines(table)
        assert all(a is b for a, b in zip(first[1:-1], again[1:-1]))  # content rows: the same objects
        app.query_one("#box", Input).focus()
        await pilot.pause()
        blurred = memo_lines(table)
        assert blurred[1:-1] != first[1:-1]  # another look: drawn anew (the cursor row at least)
        table.focus()
        await pilot.pause()
        back = memo_lines(table)
        assert all(a is b for a, b in zip(first[1:-1], back[1:-1]))


async def test_the_same_content_line_in_other_surroundings_is_styled_anew():
    """The kept line is keyed by its content line and everything around it: another border,
    background or tint on the same content line object is painted as Textual paints it."""
    from rich.segment import Segment
    from textual.color import Color
    from textual.strip import Strip

    app = PanesApp()
    async with app.run_test(size=(110, 30)):
        widget = app.query_one(StepLogs)
        content = Strip([Segment("hello" + " " * 101)])

        def paint(cache: StylesCache, background: Color) -> Strip:
            styles = widget.styles
            return cache.render_line(styles, 1, widget.size, widget.content_region.size, styles.padding, Color(0, 0, 0),
                                     background, lambda y: content, None, None, 1.0, app.ansi_theme,
                                     app.native_ansi_color)

        memo = LineMemoStylesCache()
        for background in (Color(10, 20, 30), Color(200, 0, 0), Color(10, 20, 30)):
            assert paint(memo, background) == paint(StylesCache(), background)
        widget.styles.border = ("heavy", "green")
        assert paint(memo, Color(10, 20, 30)) == paint(StylesCache(), Color(10, 20, 30))
        widget.styles.tint = Color(0, 0, 255, 0.3)
        assert paint(memo, Color(10, 20, 30)) == paint(StylesCache(), Color(10, 20, 30))
