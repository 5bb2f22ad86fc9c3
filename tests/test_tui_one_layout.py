"""Build screen widgets that cannot scroll (OneLayout) are resized by a layout without asking
for a second one: a line appearing in the overview lays the screen out once, where Textual's
own Static and Vertical lay it out twice (the second changes nothing)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.geometry import Size
from textual.widgets import Static

from railpack_tui.tui.widgets.one_layout import OneLayoutStatic, OneLayoutVertical


def layouts_counted(app: App) -> list[int]:
    count = [0]
    screen = app.screen
    refresh_layout = screen._refresh_layout

    def counting(*args, **kwargs):
        count[0] += 1
        return refresh_layout(*args, **kwargs)

    screen._refresh_layout = counting
    return count


class Overview(App):
    CSS = "#box { height: auto; } #line { height: auto; } #rest { height: 1fr; }"

    def __init__(self, vertical: type, static: type) -> None:
        super().__init__()
        self.vertical, self.static = vertical, static

    def compose(self) -> ComposeResult:
        with self.vertical(id="box"):
            yield self.static("status", id="status")
            yield self.static("", id="line")
        yield self.static("the rest", id="rest")


async def layouts_for_a_new_line(vertical: type, static: type) -> tuple[int, list[str]]:
    app = Overview(vertical, static)
    async with app.run_test(size=(60, 12)) as pilot:
        await pilot.pause()
        count = layouts_counted(app)
        app.query_one("#line", Static).update("a root miss\nand another")
        await pilot.pause()
        await pilot.pause()
        lines = [strip.text.rstrip() for strip in app.screen._compositor.render_strips()]
        return count[0], lines


async def test_a_line_appearing_lays_the_screen_out_once_and_paints_the_same():
    ours, painted = await layouts_for_a_new_line(OneLayoutVertical, OneLayoutStatic)
    textuals, textual_painted = await layouts_for_a_new_line(Vertical, Static)
    assert ours == 1
    assert textuals > ours  # Textual's own widgets ask for another layout here
    assert painted == textual_painted
    assert painted[:4] == ["status", "a root miss", "and another", "the rest"]


async def test_only_a_widget_that_cannot_scroll_skips_the_second_layout():
    class Scrolling(OneLayoutStatic):
        DEFAULT_CSS = "Scrolling { overflow-y: auto; }"

    app = Overview(OneLayoutVertical, OneLayoutStatic)
    async with app.run_test(size=(60, 12)) as pilot:
        await app.mount(Scrolling("x", id="scrolling"))
        await pilot.pause()
        for widget_id, asks in (("line", False), ("scrolling", True)):
            widget = app.query_one(f"#{widget_id}")
            widget._layout_required = False
            widget._size_updated(widget.size, Size(widget.size.width, 40), widget.container_size)
            assert widget._layout_required is asks, widget_id
