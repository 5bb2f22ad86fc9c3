"""The selected step's logs, appended as they arrive (following the end while it runs)."""

from __future__ import annotations

from typing import Any

from textual.content import Content
from textual.widgets import Log

from .. import buildview as bv


class StepLogs(Log):
    """A Log that knows which step it shows and how many of its lines it has written."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(highlight=False, max_lines=5000, auto_scroll=True, **kwargs)
        self.step_id: str | None = None
        self._written = 0

    def show_step(self, step: Any, why: str = "") -> None:
        """Show `step`'s logs (reset if it is another step), appending only new lines."""
        step_id = getattr(step, "id", None) if step is not None else None
        if step_id != self.step_id:
            self.clear()
            self.step_id = step_id
            self._written = 0
            name = str(getattr(step, "name", "")) if step is not None else ""
            # plain Content: a step name is not markup (`RUN ["sh", "-c", "echo ***"]` would not parse)
            self.border_title = Content(f"Logs · {name}") if name else "Logs"
        if step is None:
            self.border_subtitle = ""
            return
        self.border_subtitle = why
        lines, written, reset = bv.new_log_lines(getattr(step, "logs", None), self._written)
        if reset:
            self.clear()
        if lines:
            self.write_lines(lines)
        self._written = written
        if not self.line_count and not self._written:
            placeholder = {"cached": "(cached: the step did not run, so it has no output)",
                           "done": "(no output)", "canceled": "(cancelled before it printed anything)",
                           "error": "(no output; Enter shows the error)"}.get(bv.state_of(step))
            if placeholder:
                self.write_line(placeholder)
