"""Scrollbars for the Build screen's busy panes (step table, logs) that do not make the screen lay
itself out twice.

Textual's ScrollBar is a plain Widget: when a layout resizes it (the step table shrinking as the
`/` filter box opens), `_size_updated` assigns its virtual size through a reactive that asks for
another layout of the whole screen, so each `/` and Esc paid two layouts and an extra frame. A
scrollbar's virtual size is its own size and lays out nothing, so `QuietScrollBar` records it
without asking. `QuietScrollbars` is a mixin for a scrollable widget that gives it these."""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.color import Color
from rich.style import Style
from textual.geometry import Region, Size
from textual.scrollbar import ScrollBar, ScrollBarRender
from textual.strip import Strip

BARS_KEPT = 8


class QuietScrollBar(ScrollBar):
    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True) -> bool:
        if layout and size != self.size:
            # a screen layout resized the bar: that layout's frame repaints all of it (the
            # compositor marks every widget whose geometry changed); Textual passes layout=False
            # when it only scrolls, which promises no such repaint
            self._whole_repaint = True
        return super()._size_updated(size, virtual_size, container_size, layout=False)

    # What the whole bar on screen was drawn from (`_look`): recorded only by a frame known to
    # repaint all of it (a repaint of its whole region, or a layout that resized it). A frame that
    # draws the bar because it lies in the frame's crop may paint only some of its lines.
    _drawn: tuple | None = None
    _whole_repaint = False  # this frame repaints the whole bar

    def _exchange_repaint_regions(self):  # type: ignore[no-untyped-def]
        regions = super()._exchange_repaint_regions()
        whole = self.outer_size.region
        if any(region.contains_region(whole) for region in regions):
            self._whole_repaint = True
        return regions

    def _look(self) -> tuple:
        """Everything the bar is drawn from, but the crop."""
        parent = self.parent
        styles = parent.styles  # type: ignore[union-attr]
        return (self.size, self.window_virtual_size, self.window_size, self.position, self.thickness,
                self.grabbed, self.mouse_over, styles.scrollbar_background, styles.scrollbar_color,
                styles.scrollbar_background_hover, styles.scrollbar_color_hover, styles.scrollbar_background_active,
                styles.scrollbar_color_active, parent.background_colors,  # type: ignore[union-attr]
                self.screen.styles.scrollbar_color, self.styles._cache_key)

    def _check_refresh(self) -> None:
        """A repaint of a bar that would be drawn as it is on screen is not sent to the screen.
        The parent repaints its bars on every layout and every growth (`_scroll_update`
        refreshes both whether or not they changed), focus moving restyles them, and a layout
        that resizes a bar asks for a repaint that its own frame then draws: each was a frame
        after the one that answered a `/` or Esc. Decided here, once per batch of requests
        (when the bar goes idle), not at each of them."""
        if (self._repaint_required and not self._layout_required and self._drawn is not None and self.is_attached
                and self._look() == self._drawn):
            self._repaint_required = False
        super()._check_refresh()

    def render_lines(self, crop: Region) -> list[Strip]:
        """The rendered bar is kept per everything it is drawn from (~1 ms through Rich each time;
        the step table's bar was redrawn on every frame of a `/` or Esc, as its height toggles
        between two values)."""
        look = self._look()
        if self._whole_repaint and crop == self.size.region:
            self._drawn = look
            self._whole_repaint = False
        key = (crop, *look)
        cache = self.__dict__.setdefault("_bars", {})
        strips = cache.get(key)
        if strips is None:
            strips = self._from_drawn_lines(crop, look)
            if strips is None:
                self._set_dirty()
                strips = super().render_lines(crop)
                self._keep_lines(crop, look, strips)
            if len(cache) >= BARS_KEPT:
                cache.pop(next(iter(cache)))
            cache[key] = strips
        return list(strips)

    # A vertical bar's line is one segment (track above or below the thumb, the thumb, or one of
    # the thumb's partial end glyphs), and what Textual's styles pipeline makes of a line depends
    # only on that segment and the bar's colours, width and styles, not on the line's position.
    # So the lines drawn once are kept per segment, and a bar whose thumb moved or grew (the logs'
    # bar on every frame of a running step, ~1 ms through Rich and the pipeline) is assembled
    # from them; a segment never drawn before takes Textual's path, which fills the gap.
    _LINES_KEPT = 64

    def _segments(self) -> list | None:
        """The bar's segment per line, as ScrollBarRender draws it for this widget's size; None
        when it is not a plain vertical bar of one segment a line."""
        if not self.vertical:
            return None
        renderable = self.render()
        if type(renderable) is not ScrollBarRender or not isinstance(renderable.style, Style):
            return None
        style = renderable.style
        width, height = self.size
        bar = renderable.render_bar(
            size=height, virtual_size=renderable.virtual_size, window_size=renderable.window_size,
            position=renderable.position, thickness=width, vertical=True,
            back_color=style.bgcolor or Color.parse("#555555"), bar_color=style.color or Color.parse("bright_magenta"))
        segments = list(bar.segments)
        if len(segments) != height or any(cell_len(seg.text) != width for seg in segments):
            return None
        return segments

    def _line_key(self, look: tuple) -> tuple:
        return (self.size.width, *look[4:])  # the colours, width and styles: not the height, thumb or position

    def _from_drawn_lines(self, crop: Region, look: tuple) -> list[Strip] | None:
        lines = self.__dict__.get("_lines")
        if not lines or crop != self.size.region:
            return None
        segments = self._segments()
        if segments is None:
            return None
        kept = lines.get(self._line_key(look))
        if kept is None:
            return None
        try:
            return [kept[seg] for seg in segments]
        except KeyError:
            return None

    def _keep_lines(self, crop: Region, look: tuple, strips: list[Strip]) -> None:
        if crop != self.size.region:
            return
        segments = self._segments()
        if segments is None or len(segments) != len(strips):
            return
        lines = self.__dict__.setdefault("_lines", {})
        key = self._line_key(look)
        kept = lines.get(key)
        if kept is None:
            if len(lines) >= BARS_KEPT:
                lines.pop(next(iter(lines)))
            kept = lines[key] = {}
        for seg, strip in zip(segments, strips):
            if seg not in kept and len(kept) < self._LINES_KEPT:
                kept[seg] = strip


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
