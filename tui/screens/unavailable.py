"""Shown in place of a screen whose module failed to load: the app keeps running."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static


class UnavailableScreen(Screen):
    def __init__(self, title: str, reason: str) -> None:
        super().__init__()
        self.title_text = title
        self.reason = reason

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"The {self.title_text} screen could not be loaded.\n\n{self.reason}\n\n"
                     "Details are in the crash log. Keys 1-4 switch screens; q quits.", classes="unavailable")
        yield Footer()
