"""The dashboard application (minimal until the full dashboard lands)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static

from railpack_tui.core.defaults import Setup


class RailpackTUI(App):
    TITLE = "railpack-tui"
    BINDINGS = [("q", "quit", "Quit")]

    def __init__(self, setup: Setup) -> None:
        super().__init__()
        self.setup = setup

    def compose(self) -> ComposeResult:
        yield Header()
        lines = [f"Project:   {self.setup.project}", f"Builder:   {self.setup.builder or '(none)'}",
                 f"Cache ref: {self.setup.cache_ref or '(none)'}"] + self.setup.notices
        yield Static("\n".join(lines), id="summary")
        yield Footer()


def run_app(setup: Setup, theme: str | None = None) -> int:
    RailpackTUI(setup).run()
    return 0
