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


def footer_keys(app) -> dict[str, tuple[bool, bool]]:
    """The footer's keys as shown: key -> (displayed, dimmed and disabled)."""
    from textual.widgets._footer import FooterKey

    keys = {}
    for k in app.screen.query(FooterKey):
        dim = bool(k.rich_style.dim)
        assert dim == k._disabled, k.key  # it looks as it acts
        keys[k.key] = (bool(k.display), dim)
    return keys


async def test_the_filter_box_dims_the_keys_it_takes_and_keeps_the_footer_in_place(tmp_path):
    """While the filter box has focus, b, c and y type into it: the footer dims them (a click rings
    the bell) instead of removing them, so its layout, and the screen's, stays as it was."""
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_replay(pilot, "file-change")
        footer = app.screen.query_one("StableFooter")
        before = footer_keys(app)
        assert before["b"] == (True, False) and before["slash"] == (True, False)
        regions = {k.key: k.region for k in footer.query("FooterKey")}

        await pilot.press("slash")
        await pilot.pause()
        open_ = footer_keys(app)
        assert set(open_) == set(before)
        assert open_["b"] == (True, True) and open_["c"] == (True, True) and open_["y"] == (True, True)
        assert {k.key: k.region for k in footer.query("FooterKey")} == regions
        await pilot.press("b")
        assert app.screen.query_one("#filter").value == "b"  # typed, not a build

        await pilot.press("escape")
        await pilot.pause()
        assert footer_keys(app) == before
        await pilot.press("slash")  # and again: the same keys dim again
        await pilot.pause()
        assert footer_keys(app) == open_


async def test_the_footer_follows_slash_and_escape_within_the_key_handler(tmp_path):
    """The footer's keys dim and come back in the key's own handler, so they are painted in the
    key's frame, not in a frame after it."""
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_replay(pilot, "file-change")
        screen = app.screen
        before = footer_keys(app)
        screen.action_filter()
        dimmed = footer_keys(app)  # no pause: as the handler left it
        assert dimmed["b"] == (True, True) and dimmed["y"] == (True, True) and dimmed["slash"] == (True, False)
        await pilot.pause()
        assert footer_keys(app) == dimmed  # the announcements that came later changed nothing
        screen.action_back()
        assert footer_keys(app) == before
        await pilot.pause()
        assert footer_keys(app) == before
