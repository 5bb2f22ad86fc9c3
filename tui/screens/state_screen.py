"""A screen that reads the app's shared state (`self.app.state`), hears of its changes, and
stacks its panes when the terminal is narrow (class `-narrow` below `NARROW` columns) and drops
what is only extra when it is short (class `-short` below `SHORT` rows)."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

NARROW = 100
SHORT = 20
# Textual sets `-short` (below SHORT rows) before the screen's own on_resize runs
SHORT_BREAKPOINTS = [(0, "-short"), (SHORT, "-tall")]


class StateScreen(Screen):
    """Base of the Projects, Registries and History screens."""

    VERTICAL_BREAKPOINTS = SHORT_BREAKPOINTS

    DEFAULT_CSS = """
    StateScreen .pane { border: round $primary 40%; border-title-color: $text-muted; padding: 0 1; }
    StateScreen .pane:focus-within { border: round $primary; border-title-color: $text; }
    """

    def app_state(self) -> Any:
        return getattr(self.app, "state", None)

    def settings(self) -> Any:
        return getattr(self.app_state(), "settings", None)

    def on_mount(self) -> None:
        self._apply_width(self.size.width or self.app.size.width)
        signal = getattr(self.app, "state_changed", None)
        if signal is not None:
            signal.subscribe(self, self.state_changed)

    def on_resize(self, event) -> None:
        self._apply_width(event.size.width)

    def _apply_width(self, width: int) -> None:
        self.set_class(0 < width < NARROW, "-narrow")

    def state_changed(self, fields: set[str]) -> None:
        """Override: `fields` names the AppState fields that changed."""
