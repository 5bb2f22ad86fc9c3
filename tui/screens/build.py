"""The Build screen (first cut: the full live view lands next)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static


class BuildScreen(Screen):
    def compose(self) -> ComposeResult:
        yield Header()
        s = self.app.state
        yield Static(f"Project: {s.project}\nBuilder: {s.builder or '(none)'}\nCache ref: {s.cache_ref or '(none)'}",
                     id="summary")
        yield Footer()
