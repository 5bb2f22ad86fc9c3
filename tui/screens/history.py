"""The History screen (placeholder: its owner replaces this module)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static


class HistoryScreen(Screen):
    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("History: coming soon.", classes="placeholder")
        yield Footer()
