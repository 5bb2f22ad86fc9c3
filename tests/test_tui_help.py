"""`?` explains the keys of the screen it is opened on: before, it listed the Build screen's keys
everywhere, and nothing said what a, e, d, u do on Registries or Enter and Space on History."""

from __future__ import annotations

import pytest

from railpack_tui.tui.screens.help import HelpScreen
from support.tui_fixtures import settle
from tui_support import make_app


def help_text(app) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


@pytest.mark.parametrize("key, words", [
    ("1", ["Build screen", "select a step"]),
    ("2", ["Projects screen", "type a path", "Railpack plan"]),
    ("3", ["Registries screen", "add a cache ref", "use it for the project", "stop a running test"]),
    ("4", ["History screen", "mark a build", "compare"]),
])
async def test_help_shows_the_keys_of_the_screen_it_is_opened_on(tmp_path, monkeypatch, key, words):
    monkeypatch.setenv("RAILPACK_TUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAILPACK_TUI_CONFIG_DIR", str(tmp_path / "config"))
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 50)) as pilot:
        await pilot.press(key)
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        shown = help_text(app)
        for word in words + ["Everywhere", "command palette"]:
            assert word in shown, (word, shown)
