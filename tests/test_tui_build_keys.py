"""The Build screen's `/` and Esc: focus moves to the filter box and back within the key's own
handler, and the panes whose look depends on focus repaint themselves (the screen no longer
repaints everything when focus moves)."""

from __future__ import annotations

from tui_support import make_app, show_replay


def border_colour(app, widget_id: str):
    """The foreground colour of the top-left corner of a widget's border, as painted."""
    widget = app.screen.query_one(f"#{widget_id}")
    region = widget.region
    strip = app.screen._compositor.render_strips()[region.y]
    x = 0
    for segment in strip:
        if x + len(segment.text) > region.x:
            return segment.style.color
        x += len(segment.text)
    raise AssertionError("no border found")


async def test_slash_and_escape_move_focus_at_once_and_repaint_the_borders(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_replay(pilot, "file-change")
        screen = app.screen
        steps, box = screen.query_one("#steps"), screen.query_one("#filter")
        assert app.focused is steps
        focused_colour = border_colour(app, "steps")

        screen.action_filter()  # the key's handler: focus has moved when it returns
        assert box.display and screen.focused is box
        await pilot.pause()
        blurred_colour = border_colour(app, "steps")
        assert blurred_colour != focused_colour  # the steps pane repainted its border

        screen.action_back()
        assert not box.display and screen.focused is steps
        await pilot.pause()
        assert border_colour(app, "steps") == focused_colour

        await pilot.press("tab")  # and through Textual's own focus moves too
        await pilot.pause()
        assert app.focused is screen.query_one("#logs")
        assert border_colour(app, "steps") == blurred_colour
        assert border_colour(app, "logs") == focused_colour
