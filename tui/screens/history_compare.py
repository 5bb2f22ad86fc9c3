"""Two builds side by side, step by step: each step's state and time in the older build (A) and
the newer one (B), an arrow where B lost or gained a cache hit, why B ran a step (the miss kind
and its evidence), and above the table what changed between the two builds."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static
from textual.widgets.data_table import CellDoesNotExist

from railpack_tui.core.report import percent

from ..widgets.history_diff import RunDiff, StepPair, hit_ratio
from ..widgets.history_runs import cached_count, state_text, when
from ..widgets.registries_checks import human_duration
from .state_screen import SHORT_BREAKPOINTS


def _time(step) -> str:
    if step is None or step.duration_s is None:
        return ""
    return human_duration(step.duration_s)


def _why(pair: StepPair) -> Text:
    miss = getattr(pair.b, "miss", None) if pair.b is not None else None
    if pair.b is None:
        return Text("only in A", style="dim")
    if pair.a is None:
        return Text("new step in B", style="dim")
    if not miss:
        if pair.b.state == "error":
            return Text(pair.b.error or "failed", style="red")
        return Text("")
    kind = str(miss.get("kind") or "?")
    detail = str(miss.get("detail") or "")
    files = miss.get("files") or []
    text = Text.assemble((kind, "bold"), ": ", detail)
    if files and not any(f in detail for f in files):
        text.append(f" ({', '.join(files[:3])}{'…' if len(files) > 3 else ''})", style="dim")
    return text


def _arrow(pair: StepPair) -> Text:
    arrows = {"worse": Text("▼", style="bold red"), "better": Text("▲", style="bold green"),
              "other": Text("◆", style="bold yellow")}
    if pair.direction == "same" and pair.changed:  # same state, another name (a build arg in a RUN)
        return Text("≠", style="bold yellow")
    return arrows.get(pair.direction, Text(" "))


def run_title(run) -> Text:
    ratio = hit_ratio(run)
    return Text.assemble((f"#{run.id}", "bold"), f" {when(run.started_at)}  ", (run.status, "bold"),
                         f"  {cached_count(run)} cached", f" ({percent(ratio)})" if ratio is not None else "",
                         f"  {human_duration(run.duration_s)}" if run.duration_s is not None else "")


class CompareScreen(Screen):
    CSS_PATH = "history_compare.tcss"
    VERTICAL_BREAKPOINTS = SHORT_BREAKPOINTS
    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("s", "swap", "Swap A/B"),
                Binding("f", "only_changed", "Only changed")]

    def __init__(self, diff: RunDiff) -> None:
        super().__init__()
        self.diff = diff
        self.only_changed = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="compare-heading")
        changes = Static(id="compare-changes")
        changes.border_title = "What changed"
        yield changes
        with Vertical(id="compare-steps") as steps:
            steps.border_title = "Step by step"
            yield DataTable(id="compare-table", cursor_type="row")
            yield Static(id="compare-why")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#compare-table", DataTable)
        table.add_column("", key="arrow", width=1)
        table.add_column("Step", key="step", width=34)
        table.add_column(f"#{self.diff.a.id}", key="a")
        table.add_column("time", key="a-time")
        table.add_column(f"#{self.diff.b.id}", key="b")
        table.add_column("time", key="b-time")
        table.add_column(f"why #{self.diff.b.id} ran it", key="why")
        self._show()
        first = next((i for i, p in enumerate(self.diff.pairs) if p.changed), None)
        if first is not None:  # start where the builds differ: the pane below says why
            table.move_cursor(row=first)

    def _show(self) -> None:
        d = self.diff
        self.query_one("#compare-heading", Static).update(Text.assemble(
            ("A ", "dim"), run_title(d.a), ("   →   ", "bold"), ("B ", "dim"), run_title(d.b)))
        changed = [p for p in d.pairs if p.changed]
        lost = sum(1 for p in d.pairs if p.direction == "worse")
        gained = sum(1 for p in d.pairs if p.direction == "better")
        lines = Text()
        lines.append(f"{len(changed)} of {len(d.pairs)} steps differ", style="bold")
        if lost:
            lines.append(f"  ▼ {lost} lost the cache", style="red")
        if gained:
            lines.append(f"  ▲ {gained} now cached", style="green")
        for change in d.changes:
            lines.append("\n• " + change)
        if not d.changes:
            lines.append("\nnothing tracked changed (args, base images, files, Dockerfile, cache ref and options are the same)",
                         style="dim")
        self.query_one("#compare-changes", Static).update(lines)
        table = self.query_one("#compare-table", DataTable)
        keep = self._cursor_pair(table)
        table.clear()
        # the other columns take about 80 cells; the full reason is in the pane below the table
        why_width = max(12, (table.size.width or self.app.size.width) - 82)
        for i, pair in enumerate(d.pairs):
            if self.only_changed and not pair.changed:
                continue
            name = Text(pair.name, style="bold" if pair.changed else "", no_wrap=True, overflow="ellipsis")
            why = _why(pair)
            why.no_wrap = True
            why.truncate(why_width, overflow="ellipsis")
            table.add_row(_arrow(pair), name, state_text(pair.a.state if pair.a else None), _time(pair.a),
                          state_text(pair.b.state if pair.b else None), _time(pair.b), why, key=str(i))
        if table.row_count:  # the same step again, else the next one shown, else the last row
            shown = [int(k.value) for k in table.rows]
            table.move_cursor(row=next((i for i, p in enumerate(shown) if p >= keep), len(shown) - 1))

    @staticmethod
    def _cursor_pair(table: DataTable) -> int:
        """The index in `diff.pairs` of the highlighted row (rows are keyed by it), or 0."""
        if not table.row_count:
            return 0
        try:
            return int(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        except CellDoesNotExist:
            return 0

    def on_resize(self) -> None:
        self.call_after_refresh(self._show)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value if event.row_key is not None else None
        if key is None:
            return
        pair = self.diff.pairs[int(key)]
        text = Text(pair.name, style="bold")
        for label, step in (("A", pair.a), ("B", pair.b)):
            if step is not None and step.name != pair.name:
                text.append(f"\n{label} ran it as: {step.name}", style="dim")
        why = _why(pair)
        if why.plain:
            text.append("\n")
            text.append_text(why)
        files = (getattr(pair.b, "miss", None) or {}).get("files") if pair.b is not None else None
        if files and not all(f in why.plain for f in files):
            text.append("\nfiles: " + ", ".join(files), style="dim")
        self.query_one("#compare-why", Static).update(text)

    def action_swap(self) -> None:
        from ..widgets.history_diff import compare_swapped

        self.diff = compare_swapped(self.diff)
        table = self.query_one("#compare-table", DataTable)
        table.clear(columns=True)
        self.on_mount()

    def action_only_changed(self) -> None:
        self.only_changed = not self.only_changed
        self._show()
