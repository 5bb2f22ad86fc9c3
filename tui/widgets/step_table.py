"""The Build screen's table of steps: a state badge (with a spinner while running), time, bytes
pulled from the registry cache, a timeline bar over the build's wall time, and why an executed
step missed.

A widget of our own on Textual's Line API (not a DataTable): one rendered `Strip` is kept per
row and per look (cursor or not, the widget's styles, its width), so a frame renders only the
rows whose cells changed; scrolling, the cursor moving and focus going to the `/` filter box and
back reuse what was rendered. It draws what DataTable drew for these rows (one-line cells padded
by one column on each side, a bold header on `$panel`, the cursor row's component style), so the
look did not change."""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any, ClassVar, Iterable

from rich.cells import cell_len, set_cell_size
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.renderables.styled import Styled
from textual.scroll_view import ScrollView
from textual.strip import Strip

from .. import buildview as bv
from .line_memo import LineMemoStylesCache
from .scrollbars import QuietScrollbars

FIXED = {"state": 10, "time": 6, "pulled": 7}
VOLATILE_INTERVAL_S = 0.25
PADDING = 1  # cell padding on each side, as DataTable's default
STRIPS_PER_ROW = 6  # rendered looks kept per row (cursor or not x focus or not x a theme change)


@lru_cache(maxsize=4096)
def _cell_meta(row: int, column: int, out_of_bounds: bool = False) -> Style:
    """The mouse metadata of a cell (which row and column a click lands on), as DataTable gave
    it; made once per cell position (a Style with metadata pickles it: ~7 per row rendered)."""
    meta: dict[str, Any] = {"row": row, "column": column}
    if out_of_bounds:
        meta["out_of_bounds"] = True
    return Style.from_meta(meta)


def matches(step: Any, text: str) -> bool:
    """The `/` filter: words that all appear in the step's name or its state badge."""
    if not text:
        return True
    hay = f"{getattr(step, 'name', '')} {bv.BADGES[bv.state_of(step)]} {bv.state_of(step)}".lower()
    return all(word in hay for word in text.lower().split())


def cell_segments(cell: Any, width: int, style: Style, console: Any) -> list[Segment] | None:
    """A one-line cell of plain text in one style, padded by one column a side, as Rich renders
    `Styled(Padding(cell, (0, 1)), pre_style=style)` at `width` + 2 with no_wrap (the same segments
    once simplified), without Rich's render pipeline; None for anything else (spans, several
    lines, tabs, other justification or overflow), which then takes Rich's path."""
    if not isinstance(cell, Text) or cell.spans:
        return None
    plain = cell.plain
    if "\n" in plain or "\t" in plain or (cell.end and cell.end != "\n"):
        return None
    size = cell_len(plain)
    own = style + console.get_style(cell.style, default=Style.null()) if cell.style else style
    pad = Segment(" " * PADDING, style)
    justify = cell.justify or "default"
    if justify == "right":
        if size > width or plain != plain.rstrip():
            return None
        body = " " * (width - size) + plain
        return [pad, Segment(body, own), pad] if body else [pad, pad]
    if justify not in ("default", "left") or (justify == "left" and cell.style):
        return None
    if size > width:
        if cell.overflow != "ellipsis" or width < 1:
            return None
        return [pad, Segment(set_cell_size(plain, width - 1) + "…", own), pad]
    out = [pad]
    if plain:
        out.append(Segment(plain, own))
    if width > size:
        out.append(Segment(" " * (width - size), style))
    out.append(pad)
    return out


class StepTable(QuietScrollbars, ScrollView, can_focus=True):
    """One row per build step, under a header row that does not scroll."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,ctrl+home", "first", "First step", show=False),
        Binding("end,ctrl+end", "last", "Last step", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {"steptable--header", "steptable--cursor"}

    DEFAULT_CSS = """
    StepTable {
        background: $surface;
        color: $foreground;
        height: 1fr;
        &:focus {
            background-tint: $foreground 5%;
            & > .steptable--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .steptable--header {
                background-tint: $foreground 5%;
            }
        }
        & > .steptable--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .steptable--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .steptable--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    class _RowMessage(Message):
        def __init__(self, table: "StepTable", cursor_row: int, row_key: str) -> None:
            super().__init__()
            self.table = table
            self.cursor_row = cursor_row
            self.row_key = row_key

        @property
        def control(self) -> "StepTable":
            return self.table

    class RowHighlighted(_RowMessage):
        """The cursor moved to another row (or the row under it is another step)."""

    class RowSelected(_RowMessage):
        """Enter on a row, or a click on the row under the cursor."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._styles_cache = LineMemoStylesCache()  # rows scrolled, resized or refocused keep their styled lines
        self.filter_text = ""
        self.user_moved = False  # set when the user moved the cursor (the screen then stops following)
        self.row_renders = 0  # rows rendered into strips so far (tests count them)
        self._order: list[str] = []  # row keys, top to bottom
        self._index: dict[str, int] = {}
        self._cells: dict[str, tuple] = {}  # row key -> its cells (rich Text)
        self._rendered: dict[str, tuple] = {}  # row key -> what its cells showed (text and style)
        self._inputs: dict[str, tuple] = {}  # row key -> the step values its cells were built from
        self._strips: dict[str, dict[tuple, Strip]] = {}  # row key -> look -> rendered row
        self._header: dict[tuple, Strip] = {}
        self._cursor = 0
        self._last_tick = 0.0
        self._layout: tuple[int, int, int] | None = None  # name, timeline, why widths
        self._last_args: tuple | None = None
        self._looks: tuple = ()
        self._expected: Size | None = None  # the content size expected before the first layout (expect_size)

    # --- layout -------------------------------------------------------------------------

    def _widths(self) -> tuple[int, int, int]:
        outer = self.size.width or (self._expected.width if self._expected is not None else 0)
        width = max(40, outer - 2)  # leave the vertical scrollbar its room
        spare = width - sum(FIXED.values()) - 2 * 6
        why = 0 if width < 110 else min(44, max(24, (width - 110) // 2 + 24))
        spare -= why
        timeline = max(8, min(40, spare // 3))
        name = max(16, spare - timeline)
        return name, timeline, why

    def _columns(self) -> list[tuple[str, int]]:
        """(label, content width) of each column for the current layout."""
        name, timeline, why = self._layout or self._widths()
        columns = [("State", FIXED["state"]), ("Step", name), ("Time", FIXED["time"]),
                   ("Pulled", FIXED["pulled"]), ("Timeline", timeline)]
        if why:
            columns.append(("Why it ran", why))
        return columns

    def _table_width(self) -> int:
        return sum(w + 2 * PADDING for _, w in self._columns())

    def _ensure_layout(self) -> bool:
        """Adopt the column widths for the current width; True if they changed (rows rebuilt)."""
        layout = self._widths()
        if layout == self._layout:
            return False
        self._layout = layout
        self._rendered.clear()
        self._inputs.clear()
        self._cells.clear()
        self._strips.clear()
        self._header.clear()
        self.refresh()
        return True

    def expect_size(self, outer: Size) -> None:
        """Before the table is first laid out (it was hidden, so its size is not known), decide
        its scrollbars for the size it is about to get: the layout that shows it then arranges
        it with the right ones, instead of finding out afterwards and laying the screen out again
        (a second frame as the first steps appear). A wrong guess costs only that second layout."""
        if self.size or not outer:
            return
        self._expected = outer - self.styles.gutter.totals
        if self._last_args is not None:
            self.show(*self._last_args)  # the columns for that width (the virtual width with them)
        self._container_size = self._expected
        self._refresh_scrollbars()

    def _on_resize(self, event: events.Resize) -> None:
        if self._widths() != self._layout and self._last_args is not None:
            self.show(*self._last_args)

    # --- rows -----------------------------------------------------------------------------

    def _colour(self, name: str) -> str:
        theme = self.app.current_theme
        return getattr(theme, name, None) or theme.foreground or "white"

    def _cells_of(self, step: Any, wall: tuple[float, float] | None, now: float) -> tuple:
        name_w, timeline_w, why_w = self._layout or (30, 10, 0)
        state = bv.state_of(step)
        colour = self._colour(bv.STATE_COLOURS[state])
        label = bv.BADGES[state]
        if state == "running":
            badge = Text(f"{bv.spinner(now)} {label}", style=f"bold {colour}")
        elif state in ("error", "cached"):
            badge = Text(label, style=f"bold {colour}")
        elif state == "pending":
            badge = Text(label, style="dim")
        else:
            badge = Text(label, style=colour)
        name = Text(str(getattr(step, "name", "")), no_wrap=True, overflow="ellipsis")
        if state == "pending":
            name.stylize("dim")
        duration = bv.step_duration(step, now)
        time_cell = Text(bv.fmt_duration(duration) if state != "cached" else "", justify="right")
        pulled = Text(bv.fmt_bytes(getattr(step, "pulled_bytes", 0)), justify="right")
        bar = Text(" " * timeline_w)
        span = bv.bar_span(step, wall, timeline_w, now)
        if span is not None and state != "cached":
            start, end = span
            bar = Text(" " * start + "█" * (end - start) + " " * (timeline_w - end), style=colour)
        elif span is not None:
            start, _ = span
            bar = Text(" " * start + "▏" + " " * (timeline_w - start - 1), style=colour)
        cells = (badge, name, time_cell, pulled, bar)
        if why_w:
            why = bv.miss_text(getattr(step, "miss", None), short=True) if state in ("done", "error", "running") else ""
            cells += (Text(why, no_wrap=True, overflow="ellipsis", style="italic"),)
        return cells

    def show(self, steps: list[Any], now: float) -> None:
        """Bring the rows up to date with `steps` (the model's steps, in build order)."""
        self._last_args = (steps, now)
        selected = self.selected_key()
        relayout = self._ensure_layout()
        visible = [s for s in steps if matches(s, self.filter_text)]
        keys = [str(getattr(s, "id", None) or getattr(s, "name", i)) for i, s in enumerate(visible)]
        wall = bv.wall_range(steps, now)
        timeline_w = (self._layout or (0, 10, 0))[1]
        theme = self.app.theme
        # what only ticks (running times, bars, spinners) is applied a few times a second; state
        # changes at once
        clock = time.monotonic()
        ticks_ok = clock - self._last_tick >= VOLATILE_INTERVAL_S
        ticked = False
        changed: list[str] = []
        for key, step in zip(keys, visible):
            # what the row depends on, cheap to compute: skip building cells when it did not move
            state = bv.state_of(step)
            stable = (state, getattr(step, "pulled_bytes", 0), id(getattr(step, "miss", None)), theme,
                      getattr(step, "name", ""))
            volatile = (bv.fmt_duration(bv.step_duration(step, now)), bv.bar_span(step, wall, timeline_w, now),
                        bv.spinner(now) if state == "running" else "")
            old_inputs = self._inputs.get(key)
            if old_inputs is not None and key in self._rendered:
                if old_inputs == (stable, volatile):
                    continue
                if old_inputs[0] == stable and not ticks_ok:
                    continue
                ticked = ticked or old_inputs[0] == stable
            self._inputs[key] = (stable, volatile)
            cells = self._cells_of(step, wall, now)
            sig = tuple((c.plain, str(c.style), tuple(c.spans)) for c in cells)
            if self._rendered.get(key) != sig:
                self._rendered[key] = sig
                self._cells[key] = cells
                self._strips.pop(key, None)
                changed.append(key)
        if ticked:
            self._last_tick = clock
        if relayout:
            self.virtual_size = Size(self._table_width(), len(keys) + 1)
        if keys != self._order:
            self._set_order(keys, selected)
        else:
            for key in changed:
                self._refresh_row(self._index[key])

    def _set_order(self, keys: list[str], selected: str | None) -> None:
        appended = keys[: len(self._order)] == self._order
        first = len(self._order) if appended else 0
        self._order = keys
        self._index = {k: i for i, k in enumerate(keys)}
        self.virtual_size = Size(self._table_width(), len(keys) + 1)
        if appended:
            for i in range(first, len(keys)):
                self._refresh_row(i)
        else:
            self.refresh()
        before = self._cursor
        # the selected step keeps the cursor; if it is filtered out, the first row takes it
        self._cursor = max(0, min(self._index.get(selected, 0) if selected is not None else 0, len(keys) - 1))
        key = self.selected_key()
        if key is not None and (key != selected or not appended):
            self._refresh_row(before)
            self._refresh_row(self._cursor)
            if key != selected:
                self.post_message(self.RowHighlighted(self, self._cursor, key))
        # the new virtual height is laid out at the next refresh: scroll the cursor into view then
        if not self._settling:
            self._settling = True
            self.call_after_refresh(self._settle)

    _settling = False
    _jump = False  # the last cursor move was the screen following the running step

    def _settle(self) -> None:
        self._settling = False
        self._scroll_cursor_into_view()

    def _refresh_row(self, index: int) -> None:
        y = index + 1 - int(self.scroll_y)
        if 1 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    # --- rendering ------------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        # what every row's look depends on besides its cells, read once a frame
        self._looks = (self.rich_style, self.get_component_rich_style("steptable--cursor"),
                       self.get_component_styles("steptable--header").rich_style, self.size.width,
                       int(self.scroll_x))
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        if not self._looks:
            self._looks = (self.rich_style, self.get_component_rich_style("steptable--cursor"),
                           self.get_component_styles("steptable--header").rich_style, self.size.width,
                           int(self.scroll_x))
        if y == 0:
            strip = self._header.get(self._looks)
            if strip is None:
                if len(self._header) >= STRIPS_PER_ROW:
                    self._header.pop(next(iter(self._header)))
                strip = self._header[self._looks] = self._render_header()
            return strip
        index = y - 1 + int(self.scroll_y)
        if index >= len(self._order):
            return Strip.blank(self.size.width, self.rich_style)
        key = self._order[index]
        cursor = index == self._cursor
        looks = self._strips.get(key)
        if looks is None:
            looks = self._strips[key] = {}
        look = (cursor, self._looks)
        strip = looks.get(look)
        if strip is None:
            if len(looks) >= STRIPS_PER_ROW:
                looks.pop(next(iter(looks)))
            strip = looks[look] = self._render_row(index, self._cells.get(key, ()), cursor)
        return strip

    def _render_cells(self, cells: Iterable[Any], row: int, style: Style, extend: Style) -> Strip:
        """Each cell padded and cropped to its column, then the rest of the width in `extend`:
        what DataTable's per-cell pipeline produced for a one-line row."""
        base, _, _, width, scroll_x = self._looks
        console = self.app.console
        options = self.app.console_options
        segments: list[Segment] = []
        used = 0
        for column, (cell, (_, cell_width)) in enumerate(zip(cells, self._columns())):
            render_width = cell_width + 2 * PADDING
            used += render_width
            cell_style = style + _cell_meta(row, column)
            fast = cell_segments(cell, cell_width, cell_style, console)
            if fast is not None:
                segments.extend(fast)
                continue
            lines = console.render_lines(
                Styled(Padding(cell, (0, PADDING)), pre_style=cell_style, post_style=Style.null()),
                options.update_dimensions(render_width, 1).update(no_wrap=True))
            segments.extend(lines[0])
        segments.append(Segment(" " * max(0, width - used),
                                extend + _cell_meta(row, 0, out_of_bounds=True)))
        strip = Strip(segments)
        if scroll_x:
            strip = strip.crop(scroll_x, scroll_x + width)
        return strip.adjust_cell_length(width, base).simplify()

    def _render_header(self) -> Strip:
        header = self._looks[2]
        return self._render_cells([Text(label) for label, _ in self._columns()], -1, header, header)

    def _render_row(self, index: int, cells: tuple, cursor: bool) -> Strip:
        self.row_renders += 1
        base, cursor_style = self._looks[0], self._looks[1]
        style = base + cursor_style if cursor else base
        return self._render_cells(cells, index, style, style)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._looks = ()

    # --- the public surface the Build screen and tests use ------------------------------

    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def cursor_row(self) -> int:
        return self._cursor

    def keys(self) -> Iterable[str]:
        return list(self._order)

    def get_row_at(self, index: int) -> list[Text]:
        """The cells of the row at `index` (rich Text), as shown."""
        return list(self._cells[self._order[index]])

    def get_row_index(self, key: str) -> int:
        return self._index[key]

    def selected_key(self) -> str | None:
        if not self._order:
            return None
        return self._order[min(self._cursor, len(self._order) - 1)]

    def select_key(self, key: str) -> bool:
        index = self._index.get(key)
        if index is None:
            return False
        if index != self._cursor:
            self.move_cursor(row=index, jump=True)
        return True

    def move_cursor(self, *, row: int | None = None, animate: bool = False, scroll: bool = True,
                    jump: bool = False) -> None:
        """Move the cursor to `row`, scrolled into view: by as little as needed, or with `jump`
        (the screen following the running step) so that it lands a quarter of the way down, and
        the next steps below it come into view without scrolling again (each scroll repaints
        every visible row)."""
        if row is None or not self._order:
            return
        row = max(0, min(row, len(self._order) - 1))
        self._jump = jump
        if scroll and not self._settling:  # else `_settle` scrolls it into view
            self._scroll_cursor_into_view(row)
        if row == self._cursor:
            return
        self._refresh_row(self._cursor)
        self._cursor = row
        self._refresh_row(row)
        self.post_message(self.RowHighlighted(self, row, self._order[row]))

    def _scroll_cursor_into_view(self, row: int | None = None) -> None:
        row = self._cursor if row is None else row
        rows_shown = max(1, self.scrollable_content_region.height - 1)  # below the header
        top = int(self.scroll_y)
        if row < top:
            self.scroll_to(y=row, animate=False, force=True)
        elif row >= top + rows_shown:
            lead = rows_shown // 4 if self._jump else rows_shown - 1
            self.scroll_to(y=row - lead, animate=False, force=True)

    # --- keys and mouse ---------------------------------------------------------------------

    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _user_move(self, row: int) -> None:
        self.user_moved = True
        self.move_cursor(row=row)

    def action_cursor_up(self) -> None:
        self._user_move(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self._user_move(self._cursor + 1)

    def action_page_up(self) -> None:
        self._user_move(self._cursor - self._page())

    def action_page_down(self) -> None:
        self._user_move(self._cursor + self._page())

    def action_first(self) -> None:
        self._user_move(0)

    def action_last(self) -> None:
        self._user_move(len(self._order) - 1)

    def action_select_cursor(self) -> None:
        key = self.selected_key()
        if key is not None:
            self.post_message(self.RowSelected(self, self._cursor, key))

    async def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        row = offset.y - 1 + int(self.scroll_y)
        if row >= len(self._order):
            return
        event.stop()
        self.user_moved = True
        if row == self._cursor:
            self.action_select_cursor()
        else:
            self.move_cursor(row=row)
