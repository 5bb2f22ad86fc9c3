"""The Registries screen (placeholder: its owner replaces this module)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static


class RegistriesScreen(Screen):
    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Registries: coming soon.", classes="placeholder")
        yield Footer()
