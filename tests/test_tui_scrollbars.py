"""The Build screen's busy panes use QuietScrollBars: a resized scrollbar asks for no second
screen layout, and a bar drawn again from the same state is the one drawn before (a moved
thumb is drawn anew)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.scrollbar import ScrollBar

from railpack_tui.tui.widgets.scrollbars import QuietScrollBar
from railpack_tui.tui.widgets.step_table import StepTable
from test_tui_step_table import done_steps


class TableApp(App):
    CSS = "StepTable { height: 12; }"

    def compose(self) -> ComposeResult:
        yield StepTable(id="steps")


def bar_texts(app: App) -> list[str]:
    return [strip.text[-1] for strip in app.screen._compositor.render_strips()[:12]]


async def test_a_resized_scrollbar_asks_for_no_layout_and_redraws_when_the_thumb_moves():
    app = TableApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(StepTable)
        table.show(done_steps(60), 200.0)
        await pilot.pause()
        bar = table.vertical_scrollbar
        assert isinstance(bar, QuietScrollBar) and bar.display
        asked: list[bool] = []
        refresh = bar.refresh

        def recording(*regions, layout: bool = False, **kwargs):
            asked.append(layout)
            return refresh(*regions, layout=layout, **kwargs)

        bar.refresh = recording
        table.styles.height = 9  # as when the filter box opens below it
        await pilot.pause()
        assert bar.size.height < 12
        assert not any(asked)  # a plain ScrollBar asks for a layout here

        top = bar_texts(app)
        table.select_key("s59")  # scrolls to the bottom: the thumb moves
        await pilot.pause()
        bottom = bar_texts(app)
        assert bottom != top
        table.select_key("s0")
        await pilot.pause()
        assert bar_texts(app) == top


async def test_a_kept_bar_is_what_textual_draws():
    app = TableApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(StepTable)
        table.show(done_steps(60), 200.0)
        table.select_key("s30")
        await pilot.pause()
        bar = table.vertical_scrollbar
        crop = bar.size.region
        kept = bar.render_lines(crop)
        assert bar.render_lines(crop) == kept
        bar._set_dirty()
        assert ScrollBar.render_lines(bar, crop) == kept
