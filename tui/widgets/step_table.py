"""The Build screen's table of steps: a state badge (with a spinner while running), time, bytes
pulled from the registry cache, a timeline bar over the build's wall time, and why an executed
step missed. Rows are keyed by step id and updated in place, only where a cell changed."""

from __future__ import annotations

import time
from typing import Any, Iterable

from rich.text import Text
from textual.cache import LRUCache
from textual.widget import Widget
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowDoesNotExist, RowKey

from .. import buildview as bv

FIXED = {"state": 10, "time": 6, "pulled": 7}
VOLATILE_INTERVAL_S = 0.25


def matches(step: Any, text: str) -> bool:
    """The `/` filter: words that all appear in the step's name or its state badge."""
    if not text:
        return True
    hay = f"{getattr(step, 'name', '')} {bv.BADGES[bv.state_of(step)]} {bv.state_of(step)}".lower()
    return all(word in hay for word in text.lower().split())


class StepTable(DataTable):
    """One row per build step."""

    DEFAULT_CSS = """
    StepTable { height: 1fr; }
    """

    def __init__(self, **kwargs: Any) -> None:
        # the selected row keeps its badge and bar colours (the cursor only sets the background)
        super().__init__(cursor_type="row", zebra_stripes=False, cursor_foreground_priority="renderable", **kwargs)
        self.filter_text = ""
        self._rendered: dict[str, tuple] = {}  # row key -> what its cells showed (text and style)
        self._inputs: dict[str, tuple] = {}  # row key -> the step values its cells were built from
        self._last_tick = 0.0
        self._order: list[str] = []
        self._layout: tuple[int, int, int] | None = None  # name, timeline, why widths
        self._colours: dict[str, str] = {}

    # --- cell updates ---------------------------------------------------------------------

    def update_cell(self, row_key: RowKey | str, column_key: ColumnKey | str, value: Any, *,
                    update_width: bool = False) -> None:
        """DataTable's own update bumps a counter that is part of every render cache key and
        refreshes the whole widget, so one spinner tick re-renders every visible cell. Here only
        the changed cell's cached renders are dropped and only its row is repainted (the columns
        have fixed widths, so nothing else can move)."""
        if update_width:
            super().update_cell(row_key, column_key, value, update_width=True)
            return
        rk = RowKey(row_key) if isinstance(row_key, str) else row_key
        ck = ColumnKey(column_key) if isinstance(column_key, str) else column_key
        if rk not in self._row_locations or ck not in self._column_locations:
            raise CellDoesNotExist(f"No cell exists for row_key={rk!r}, column_key={ck!r}.")
        self._data[rk][ck] = value
        row_index = self._row_locations.get(rk)
        caches = [(self._row_renderable_cache, lambda k: k[1] == row_index)]
        for row_cache, cell_cache, line_cache in [self._render_caches(), *self._stashed.values()]:
            caches += [(cell_cache, lambda k: k[0] == rk and k[1] == ck), (row_cache, lambda k: k[0] == rk)]
            line_cache.clear()  # keyed by y; rebuilt from the row renders above, cheap
        for cache, match in caches:
            for key in [k for k in cache.keys() if match(k)]:
                cache.discard(key)
        self.refresh_row(row_index)

    def add_row(self, *cells: Any, height: int | None = 1, key: str | None = None, label: Any = None) -> RowKey:
        """Append a row without invalidating the renders of the rows above it (DataTable's own
        add_row bumps the counter in every render cache key: a new step used to re-render the
        whole visible table). Valid because rows are only ever appended, one line high, and the
        columns have fixed widths; anything else takes DataTable's path."""
        count = self._update_count
        row_key = super().add_row(*cells, height=height, key=key, label=label)
        if height == 1 and label is None and not any(c.auto_width for c in self.columns.values()):
            self._update_count = count
            self._offset_cache.clear()  # keyed by the counter alone; rows moved below the end
            self.refresh_row(self._row_locations.get(row_key))
        return row_key

    # --- render caches per style ----------------------------------------------------------

    _style_key: Any = None
    _style_dirty = True

    @property
    def _stashed(self) -> dict:
        stash = self.__dict__.get("_stash")
        if stash is None:
            stash = self.__dict__["_stash"] = {}
        return stash

    def _render_caches(self) -> tuple:
        return self._row_render_cache, self._cell_render_cache, self._line_cache

    def notify_style_update(self) -> None:
        """DataTable drops every rendered row on any style update, and focus moving to the filter
        box and back is two of them (`:focus` changes the cursor and border): each `/` and Esc
        re-rendered every visible row. Here the rendered rows are kept per resulting style (the
        table's own and its component styles, read at the next render) and swapped back in when
        the styles return to what they were."""
        Widget.notify_style_update(self)
        self._styles_cache.clear()
        self._get_styles_to_render_cell.cache_clear()
        self._style_dirty = True
        self.refresh()

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._stashed.clear()

    def render_lines(self, crop: Any) -> Any:
        if self._style_dirty:
            self._style_dirty = False
            key = (self.rich_style, self.get_pseudo_class_state(),
                   tuple(self.get_component_rich_style(c, partial=p) for c in sorted(self.COMPONENT_CLASSES)
                         for p in (False, True)))
            if key != self._style_key:
                stash = self._stashed
                if self._style_key is not None:
                    stash[self._style_key] = self._render_caches()
                caches = stash.pop(key, None) or (LRUCache(1000), LRUCache(10000), LRUCache(1000))
                self._row_render_cache, self._cell_render_cache, self._line_cache = caches
                self._style_key = key
                while len(stash) > 3:
                    stash.pop(next(iter(stash)))
        return super().render_lines(crop)

    # --- layout -------------------------------------------------------------------------

    def _widths(self) -> tuple[int, int, int]:
        width = max(40, self.size.width - 2)  # leave the vertical scrollbar its room
        spare = width - sum(FIXED.values()) - 2 * 6
        why = 0 if width < 110 else min(44, max(24, (width - 110) // 2 + 24))
        spare -= why
        timeline = max(8, min(40, spare // 3))
        name = max(16, spare - timeline)
        return name, timeline, why

    def _ensure_columns(self) -> bool:
        """(Re)build the columns when the width class changed; True if the table was reset."""
        layout = self._widths()
        if layout == self._layout and self.columns:
            return False
        self._layout = layout
        name, timeline, why = layout
        self.clear(columns=True)
        self._rendered.clear()
        self._inputs.clear()
        self._order = []
        self.add_column("State", width=FIXED["state"], key="state")
        self.add_column("Step", width=name, key="name")
        self.add_column("Time", width=FIXED["time"], key="time")
        self.add_column("Pulled", width=FIXED["pulled"], key="pulled")
        self.add_column("Timeline", width=timeline, key="timeline")
        if why:
            self.add_column("Why it ran", width=why, key="why")
        return True

    def _on_resize(self, event: Any) -> None:
        # DataTable's handler bumps the counter in every render cache key, so a table that only got
        # shorter or taller (the `/` filter box opening below it) re-rendered every visible row.
        # Row renders depend on the column widths alone, which are fixed here and only change
        # through `_relayout` (a new width class rebuilds the columns); a new width still takes
        # DataTable's path.
        width = event.size.width
        if width != getattr(self, "_resized_width", None):
            self._resized_width = width
            self._update_count += 1
        event.prevent_default()
        self.call_after_refresh(self._relayout)

    def _relayout(self) -> None:
        if self._widths() != self._layout and getattr(self, "_last_steps", None) is not None:
            self.show(*self._last_args)

    # --- rendering ----------------------------------------------------------------------

    def _colour(self, name: str) -> str:
        theme = self.app.current_theme
        return getattr(theme, name, None) or theme.foreground or "white"

    def _cells(self, step: Any, wall: tuple[float, float] | None, now: float) -> tuple:
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
        self._last_steps = steps
        self._last_args = (steps, now)
        selected = self.selected_key()
        reset = self._ensure_columns()
        visible = [s for s in steps if matches(s, self.filter_text)]
        keys = [str(getattr(s, "id", None) or getattr(s, "name", i)) for i, s in enumerate(visible)]
        wall = bv.wall_range(steps, now)
        if reset or keys[: len(self._order)] != self._order:
            self.clear()
            self._rendered.clear()
            self._inputs.clear()
            self._order = []
            if selected in keys:
                self._pending_select = selected
        column_keys = [c.key for c in self.ordered_columns]
        timeline_w = (self._layout or (0, 10, 0))[1]
        theme = self.app.theme
        # any cell update makes DataTable re-render every visible cell: what only ticks (running
        # times, bars, spinners) is applied a few times a second; state changes at once
        clock = time.monotonic()
        ticks_ok = clock - self._last_tick >= VOLATILE_INTERVAL_S
        ticked = False
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
            cells = self._cells(step, wall, now)
            sig = tuple((c.plain, str(c.style), tuple(c.spans)) for c in cells)
            old = self._rendered.get(key)
            if old is None:
                self.add_row(*cells, key=key)
                self._order.append(key)
            elif old != sig:
                for col, new, new_sig, prev_sig in zip(column_keys, cells, sig, old):
                    if new_sig != prev_sig:
                        self.update_cell(key, col, new)
            self._rendered[key] = sig
        if ticked:
            self._last_tick = clock
        pending = getattr(self, "_pending_select", None)
        if pending is not None:
            self._pending_select = None
            self.select_key(pending)

    # --- selection ----------------------------------------------------------------------

    user_moved = False  # set when the user moved the cursor (the screen then stops following)

    def _user(self, action: str) -> None:
        self.user_moved = True
        getattr(super(), action)()

    def action_cursor_up(self) -> None:
        self._user("action_cursor_up")

    def action_cursor_down(self) -> None:
        self._user("action_cursor_down")

    def action_page_up(self) -> None:
        self._user("action_page_up")

    def action_page_down(self) -> None:
        self._user("action_page_down")

    def action_scroll_home(self) -> None:
        self._user("action_scroll_home")

    def action_scroll_end(self) -> None:
        self._user("action_scroll_end")

    async def _on_click(self, event) -> None:
        self.user_moved = True
        await super()._on_click(event)

    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None

    def select_key(self, key: str) -> bool:
        try:
            index = self.get_row_index(key)
        except RowDoesNotExist:
            return False
        if index != self.cursor_row:
            self.move_cursor(row=index, animate=False, scroll=True)
        return True

    def keys(self) -> Iterable[str]:
        return list(self._order)
