"""Scrollbars for the Build screen's busy panes (step table, logs) that do not make the screen lay
itself out twice.

Textual's ScrollBar is a plain Widget: when a layout resizes it (the step table shrinking as the
`/` filter box opens), `_size_updated` assigns its virtual size through a reactive that asks for
another layout of the whole screen, so each `/` and Esc paid two layouts and an extra frame. A
scrollbar's virtual size is its own size and lays out nothing, so `QuietScrollBar` records it
without asking. `QuietScrollbars` is a mixin for a scrollable widget that gives it these."""

from __future__ import annotations

from typing import Any

from textual.geometry import Region, Size
from textual.scrollbar import ScrollBar
from textual.strip import Strip

BARS_KEPT = 8


class QuietScrollBar(ScrollBar):
    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True) -> bool:
        return super()._size_updated(size, virtual_size, container_size, layout=False)

    def render_lines(self, crop: Region) -> list[Strip]:
        """The rendered bar is kept per everything it is drawn from (~1 ms through Rich each time;
        the step table's bar was redrawn on every frame of a `/` or Esc, as its height toggles
        between two values)."""
        parent = self.parent
        styles = parent.styles  # type: ignore[union-attr]
        key = (crop, self.size, self.window_virtual_size, self.window_size, self.position, self.thickness,
               self.grabbed, self.mouse_over, styles.scrollbar_background, styles.scrollbar_color,
               styles.scrollbar_background_hover, styles.scrollbar_color_hover, styles.scrollbar_background_active,
               styles.scrollbar_color_active, parent.background_colors,  # type: ignore[union-attr]
               self.screen.styles.scrollbar_color, self.styles._cache_key)
        cache = self.__dict__.setdefault("_bars", {})
        strips = cache.get(key)
        if strips is None:
            strips = super().render_lines(crop)
            if len(cache) >= BARS_KEPT:
                cache.pop(next(iter(cache)))
            cache[key] = strips
        return list(strips)


class QuietScrollbars:
    """Mixin (before the Widget class in the bases): the widget's scrollbars are QuietScrollBars.
    Mirrors Widget.vertical_scrollbar / horizontal_scrollbar, which create them on first use."""

    _vertical_scrollbar: Any
    _horizontal_scrollbar: Any

    def _quiet_bar(self, vertical: bool) -> QuietScrollBar:
        thickness = self.scrollbar_size_vertical if vertical else self.scrollbar_size_horizontal  # type: ignore[attr-defined]
        bar = QuietScrollBar(vertical=vertical, name="vertical" if vertical else "horizontal", thickness=thickness)
        bar.display = False
        self.app._start_widget(self, bar)  # type: ignore[attr-defined]
        return bar

    @property
    def vertical_scrollbar(self) -> ScrollBar:
        if self._vertical_scrollbar is None:
            self._vertical_scrollbar = self._quiet_bar(True)
        return self._vertical_scrollbar

    @property
    def horizontal_scrollbar(self) -> ScrollBar:
        if self._horizontal_scrollbar is None:
            self._horizontal_scrollbar = self._quiet_bar(False)
        return self._horizontal_scrollbar
