"""The Build screen's busy panes use QuietScrollBars: a resized scrollbar asks for no second
screen layout, a bar drawn again from the same state is the one drawn before (a moved
thumb is drawn anew, from the lines drawn before: the same as Textual draws it), and a repaint
of a bar that would look the same is not asked for."""

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


async def table_and_bar(app: App, pilot) -> tuple[StepTable, ScrollBar]:
    """60 steps in a 12-row table, and its vertical bar, painted."""
    table = app.query_one(StepTable)
    table.show(done_steps(60), 200.0)
    await pilot.pause()
    return table, table.vertical_scrollbar


async def test_a_resized_scrollbar_asks_for_no_layout_and_redraws_when_the_thumb_moves():
    app = TableApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table, bar = await table_and_bar(app, pilot)
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
        table, bar = await table_and_bar(app, pilot)
        table.select_key("s30")
        await pilot.pause()
        crop = bar.size.region
        kept = bar.render_lines(crop)
        assert bar.render_lines(crop) == kept
        bar._set_dirty()
        assert ScrollBar.render_lines(bar, crop) == kept


async def test_a_bar_assembled_from_kept_lines_is_what_textual_draws_at_every_thumb_position():
    """A vertical bar whose thumb moved is assembled from the lines drawn before (one per
    segment); at every position it equals Textual's own drawing."""
    app = TableApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table, bar = await table_and_bar(app, pilot)
        assembled = 0
        for row in [*range(60), *range(59, -1, -7)]:
            table.select_key(f"s{row}")
            await pilot.pause()
            crop = bar.size.region
            assembled += bar._from_drawn_lines(crop, bar._look()) is not None
            bar.__dict__["_bars"] = {}  # not the whole-bar cache: the kept lines, or Textual's path
            drawn = bar.render_lines(crop)
            bar._set_dirty()
            assert drawn == ScrollBar.render_lines(bar, crop), row
        assert assembled > 40  # most positions came from kept lines


async def test_a_repaint_of_a_bar_that_would_look_the_same_is_not_asked_for():
    app = TableApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table, bar = await table_and_bar(app, pilot)
        bar.refresh()  # nothing changed since the frame that drew it
        bar._check_refresh()  # what Textual calls when the bar goes idle: the request goes no further
        assert not bar._repaint_required
        table.select_key("s40")  # the thumb moves: repainted
        assert bar._repaint_required
        await pilot.pause()
        assert not bar._repaint_required  # painted


async def test_a_bar_drawn_for_another_widgets_repaint_still_gets_its_own():
    """A frame may draw the bar only because it lies in the area being repainted, and paint just
    some of its lines: that does not count as the bar being on screen, so the bar's own repaint
    still goes to the screen."""
    app = TableApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table, bar = await table_and_bar(app, pilot)
        table.scroll_to(y=30, animate=False, immediate=True)  # the thumb moves: a repaint is asked for
        assert bar._repaint_required
        bar.render_lines(bar.size.region)  # drawn as part of another widget's frame, before the request went out
        sent = []
        post = app.screen.post_message
        app.screen.post_message = lambda message: sent.append(message) or post(message)
        bar._check_refresh()
        assert [m for m in sent if getattr(m, "widget", None) is bar]  # sent to the screen, not dropped
        await pilot.pause()
        bar.refresh()  # and once that repaint painted it, a request that changes nothing is dropped
        bar._check_refresh()
        assert not bar._repaint_required
