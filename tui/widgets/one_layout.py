"""Build screen widgets that cannot scroll, resized without asking for another screen layout.

When a layout gives a widget a new size, Textual assigns the widget's virtual (scrollable) size
through a reactive that lays out the whole screen again, so that scrollbars appearing or going
can take their room. A widget whose overflow is hidden on both axes has no scrollbars: the
second layout changes nothing, yet costs a full frame. On the Build screen each change of the
overview's height (the root misses, warnings or the error line appearing), each container it
resizes (overview, main, left, steps pane, meter column) and the first steps appearing paid
such a second layout and frame (16-25 ms of UI time as the first steps arrive, when a key
pressed then waits behind it). `OneLayout` records the virtual size without asking; a widget
whose overflow is not hidden both ways keeps Textual's behaviour."""

from __future__ import annotations

from typing import Any

from textual.containers import Horizontal, Vertical
from textual.geometry import Size
from textual.widgets import Static


class OneLayout:
    """Mixin, before the Widget class in the bases."""

    styles: Any

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True) -> bool:
        styles = self.styles
        if styles.overflow_x == "hidden" and styles.overflow_y == "hidden":
            layout = False
        return super()._size_updated(size, virtual_size, container_size, layout=layout)  # type: ignore[misc]


class OneLayoutVertical(OneLayout, Vertical):
    pass


class OneLayoutHorizontal(OneLayout, Horizontal):
    pass


class OneLayoutStatic(OneLayout, Static):
    pass
