"""The step table's styled lines kept per content line.

Textual draws a widget line by line through its StylesCache: the widget's own line (its content)
is padded, given its borders, tinted and faded as the widget's styles say, and every frame
that repaints the widget does this again for every visible line, ~0.05-0.1 ms a line. The step
table repaints most of its lines on every frame of a running build and on every `/` and Esc
(it scrolls to follow the running step, shrinks and grows under the filter box, and its focus
look changes) while its content lines stay the same objects (one rendered row per look): a
repaint of 25 rows cost ~1 ms. (Not used for the logs pane: while a busy step runs, each frame
shows lines it never showed before, so kept lines would only be more objects for the garbage
collector to scan.)

`LineMemoStylesCache` keeps, per content line object, what the styles made of it, with
everything else that went into it (the borders, outline, hatch, tint and text opacity by value,
sizes, padding, colours, opacity, theme): the same
content line with the same surroundings is the same styled line, and the same object, so the
compositor's and the filters' caches on that object hit too. Border and padding rows take
Textual's path as before. Entries hold their content line, so an id is never mistaken for
another object's. Nothing is dropped when the widget is repainted (a full repaint clears
the StylesCache): an entry is used only if everything it was made from is unchanged."""

from __future__ import annotations

from typing import Any, Callable

from textual._styles_cache import StylesCache
from textual.strip import Strip

KEPT = 160  # styled lines kept: a few screens of the table (~25 rows), for two or three looks; each
# kept line and the caches it carries are objects every young-generation collection scans again


class LineMemoStylesCache(StylesCache):
    def __init__(self) -> None:
        super().__init__()
        self._styled: dict[int, tuple[Strip, tuple, Strip]] = {}
        self._styles_seen: tuple = (None, None, ())  # (styles, its _cache_key, what a content line takes from it)

    def _look_of(self, styles: Any) -> tuple:
        """What Textual's content-line path reads from the styles, by value: their _cache_key only
        grows (focus moving away and back is two updates), the values come back."""
        seen_styles, seen_key, look = self._styles_seen
        key = styles._cache_key
        if seen_styles is not styles or seen_key != key:
            look = (styles.gutter, styles.border, styles.outline,
                    styles.hatch if styles.has_rule("hatch") else None, styles.tint, styles.text_opacity)
            self._styles_seen = (styles, key, look)
        return look

    def render_line(self, styles: Any, y: int, size: Any, content_size: Any, padding: Any, base_background: Any,
                    background: Any, render_content_line: Callable[[int], Strip], border_title: Any,
                    border_subtitle: Any, opacity: float, ansi_theme: Any, native_ansi: bool) -> Strip:
        gutter = styles.gutter
        content_y = y - gutter.top
        if not (0 <= content_y < content_size.height and y < size.height - gutter.bottom):
            return super().render_line(styles, y, size, content_size, padding, base_background, background,
                                       render_content_line, border_title, border_subtitle, opacity, ansi_theme,
                                       native_ansi)
        content = render_content_line(content_y)
        around = (self._look_of(styles), size, content_size, padding, base_background, background, opacity,
                  ansi_theme, native_ansi)
        kept = self._styled.get(id(content))
        if kept is not None and kept[0] is content and kept[1] == around:
            return kept[2]
        strip = super().render_line(styles, y, size, content_size, padding, base_background, background,
                                    lambda _y: content, border_title, border_subtitle, opacity, ansi_theme,
                                    native_ansi)
        styled = self._styled
        styled.pop(id(content), None)
        if len(styled) >= KEPT:
            del styled[next(iter(styled))]
        styled[id(content)] = (content, around, strip)
        return strip
