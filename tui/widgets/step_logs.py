"""The selected step's logs, appended as they arrive (following the end while it runs)."""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.content import Content
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Log

from .. import buildview as bv
from .scrollbars import QuietScrollbars


class StepLogs(QuietScrollbars, Log):
    """A Log that knows which step it shows and how many of its lines it has written."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(highlight=False, max_lines=5000, auto_scroll=True, **kwargs)
        self.step_id: str | None = None
        self._written = 0
        self._line_style: Style | None = None  # the pane's style, read once per render (see render_lines)

    def render_lines(self, crop: Region) -> list[Strip]:
        """As Log's, with the pane's Rich style read once for all the lines it renders: Log reads it
        per line (a walk over every ancestor's styles, ~0.15 ms, and a frame of a running step
        renders every visible line anew as they scroll)."""
        self._line_style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._line_style = None

    def _render_line(self, y: int, scroll_x: int, width: int) -> Strip:
        """Log._render_line; a line of printable ASCII (nearly all build output) becomes its one
        segment directly, the segment Log's Text render gives it (`_process_line` leaves such a
        line as it is), without the Text, its spans and a console render per line."""
        rich_style = self._line_style or self.rich_style
        if y >= len(self._lines):
            return Strip.blank(width, rich_style)
        text = self._lines[y]
        if text and text.isascii() and text.isprintable() and self.text_selection is None:
            line = Strip([Segment(text, rich_style)], len(text))
        else:
            line = self._render_line_strip(y, rich_style)
        return line.crop_extend(scroll_x, scroll_x + width, rich_style).apply_offsets(scroll_x, y)

    def write_lines(self, lines: Any, scroll_end: bool | None = None) -> "StepLogs":
        """Log.write_lines without its two costs per write on the UI thread, which a busy step
        pays a dozen times a second: (1) the new virtual size was assigned to a reactive that
        lays out the whole screen, though this pane's height never depends on its content (only
        the scrollbars do, and they still ask for a layout when they appear or go); (2) a thread
        worker was started to measure the new lines' width. Here the width is measured inline
        (C-speed `len` when the lines are ASCII without tabs, as nearly all build output is),
        and only the last `max_lines` of a large batch are kept, as the Log would have pruned."""
        new = [piece for line in lines for piece in line.splitlines()]
        if not new:
            return self
        is_end = self.is_vertical_scroll_end
        auto_scroll = self.auto_scroll if scroll_end is None else scroll_end
        if self.max_lines is not None and len(new) >= self.max_lines:
            new = new[-self.max_lines:]
            self._lines.clear()
            self._render_line_cache.clear()
        start = len(self._lines)
        self._lines.extend(new)
        if self.max_lines is not None and len(self._lines) > self.max_lines:
            removed = len(self._lines) - self.max_lines
            self._prune_max_lines()
            start -= removed
        joined = "\n".join(new)
        if joined.isascii() and "\t" not in joined:
            width = max(map(len, new))  # control characters become one replacement character each
        else:  # measure only the lines that need it (the "… N lines not kept …" marker is one)
            process = self._process_line
            width = max(len(line) if line.isascii() and "\t" not in line else cell_len(process(line))
                        for line in new)
        self._width = max(self._width, width)
        self._sync_size()
        self.refresh_lines(max(0, start), len(new))
        if auto_scroll and not self.is_vertical_scrollbar_grabbed and is_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        else:
            self.refresh()
        return self

    def _empty(self) -> None:
        """Drop every line, leaving the virtual size (and so the scrollbars) to the next write or
        `_sync_size`: switching steps used to hide the scrollbar and show it again in one
        redraw, two screen layouts."""
        self._lines.clear()
        self._width = 0
        self._render_line_cache.clear()
        self._updates += 1
        self._clear_y = 0
        self.refresh()

    def _sync_size(self) -> None:
        size = Size(self._width, len(self._lines))
        if size != self.virtual_size:
            self.set_reactive(Widget.virtual_size, size)
            self._scroll_update(size)  # scrollbars; a layout only if one appears or goes

    def clear(self) -> "StepLogs":
        """Log.clear, without a screen layout (see write_lines)."""
        self._empty()
        self._sync_size()
        return self

    def show_step(self, step: Any, why: str = "") -> None:
        """Show `step`'s logs (reset if it is another step), appending only new lines."""
        step_id = getattr(step, "id", None) if step is not None else None
        emptied = step_id != self.step_id
        if emptied:
            self._empty()
            self.step_id = step_id
            self._written = 0
            name = str(getattr(step, "name", "")) if step is not None else ""
            # plain Content: a step name is not markup (`RUN ["sh", "-c", "echo ***"]` would not parse)
            self.border_title = Content(f"Logs · {name}") if name else "Logs"
        if step is None:
            self.border_subtitle = ""
            self._sync_size()
            return
        self.border_subtitle = Content(why)  # plain text: a why quoting `RUN ["sh", "-c", "a=1"]` is not markup
        lines, written, reset = bv.new_log_lines(getattr(step, "logs", None), self._written)
        if reset:
            self._empty()
            emptied = True
        if not lines and not written and not self._lines:
            placeholder = {"cached": "(cached: the step did not run, so it has no output)",
                           "done": "(no output)", "canceled": "(cancelled before it printed anything)",
                           "error": "(no output; Enter shows the error)"}.get(bv.state_of(step))
            lines = [placeholder] if placeholder else []
        self._written = written
        if lines:
            self.write_lines(lines)
        elif emptied:
            self._sync_size()
