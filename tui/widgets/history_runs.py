"""The project's past builds: a table (time, status, cached steps, hit ratio, duration, cache
import) and two sparklines over the same builds, oldest to newest: hit ratio and duration."""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Sparkline, Static

from railpack_tui.core.model import NOT_IMPORTED
from railpack_tui.core.report import percent

from .history_diff import STATE_LABELS, hit_ratio
from .registries_checks import human_duration

STATUS_STYLES = {"success": "green", "failed": "bold red", "cancelled": "yellow", "incomplete": "yellow"}


def when(ts: float | None) -> str:
    if not ts:
        return "?"
    return time.strftime("%m-%d %H:%M:%S", time.localtime(ts))


def ratio_bar(ratio: float | None, width: int = 8) -> Text:
    if ratio is None:
        return Text("—", style="dim")
    filled = round(ratio * width)
    style = "green" if ratio >= 0.75 else "yellow" if ratio >= 0.25 else "red"
    return Text.assemble(("█" * filled, style), ("░" * (width - filled), "dim"), f" {percent(ratio):>4}")


def state_text(state: str | None) -> Text:
    if state is None:
        return Text("—", style="dim")
    style = {"cached": "bold green", "executed": "bold yellow", "error": "bold red"}.get(state, "dim")
    return Text(STATE_LABELS.get(state, state.upper()), style=style)


def import_text(run: Any) -> Text:
    outcomes = [o for o in (run.cache_import or []) if isinstance(o, dict)]
    if run.no_import or not (outcomes or run.cache_ref):  # not asked for: the Build screen's word
        return Text("off", style="dim")
    if not outcomes:
        return Text("none", style="dim")
    if outcomes[0].get("detail") == NOT_IMPORTED:  # the build ended first (e.g. a Dockerfile error)
        return Text("not reached", style="dim")
    state = str(outcomes[0].get("state") or "?")
    style = "green" if state == "ok" else "yellow" if state == "not-found" else "bold red"
    return Text(state, style=style)


def cached_count(run: Any) -> str:
    s = run.summary or {}
    if s.get("steps"):
        return f"{s.get('cached', 0)}/{s['steps']}"
    return f"{sum(1 for st in run.steps if st.state == 'cached')}/{len(run.steps)}"


class HistoryTrends(Horizontal):
    """Hit ratio and duration over the listed builds."""

    DEFAULT_CSS = """
    HistoryTrends { height: 4; }
    HistoryTrends .trend { width: 1fr; height: 4; padding: 0 1; }
    HistoryTrends .trend-label { height: 1; }
    HistoryTrends Sparkline { height: 3; }
    HistoryTrends #trend-hit > .sparkline--max-color { color: $success; }
    HistoryTrends #trend-hit > .sparkline--min-color { color: $error; }
    HistoryTrends #trend-time > .sparkline--max-color { color: $warning; }
    HistoryTrends #trend-time > .sparkline--min-color { color: $success; }
    """

    def compose(self) -> ComposeResult:
        with Vertical(classes="trend"):
            yield Static("Hit ratio", id="trend-hit-label", classes="trend-label")
            yield Sparkline([], id="trend-hit")
        with Vertical(classes="trend"):
            yield Static("Duration", id="trend-time-label", classes="trend-label")
            yield Sparkline([], id="trend-time")

    def show(self, runs_newest_first: list[Any]) -> None:
        runs = list(reversed(runs_newest_first))
        ratios = [hit_ratio(r) or 0.0 for r in runs]
        times = [float(r.duration_s or 0.0) for r in runs]
        for spark_id, data in (("#trend-hit", ratios), ("#trend-time", times)):
            spark = self.query_one(spark_id, Sparkline)
            spark.data = data
            spark.display = bool(data)
        if runs:
            avg = sum(ratios) / len(ratios)
            self.query_one("#trend-hit-label", Static).update(Text.assemble(
                ("Hit ratio ", "bold"), f"last {percent(ratios[-1])}", (f"  avg {percent(avg)}  over {len(runs)} builds", "dim")))
            self.query_one("#trend-time-label", Static).update(Text.assemble(
                ("Duration ", "bold"), f"last {human_duration(times[-1])}",
                (f"  fastest {human_duration(min(times))}  slowest {human_duration(max(times))}", "dim")))
        else:
            self.query_one("#trend-hit-label", Static).update(Text("Hit ratio", style="bold"))
            self.query_one("#trend-time-label", Static).update(Text("Duration", style="bold"))


class RunsTable(DataTable):
    """One row per build, newest first; `marked` is the run picked as the other side of a compare."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_column("", key="mark", width=1)
        self.add_column("#", key="id")
        self.add_column("When", key="when")
        self.add_column("Status", key="status")
        self.add_column("Cached", key="cached")
        self.add_column("Hit ratio", key="ratio")
        self.add_column("Time", key="time")
        self.add_column("Import", key="import")

    def show(self, runs: list[Any], marked: int | None) -> None:
        keep = self.cursor_row
        self.clear()
        for run in runs:
            mark = Text("◆", style="bold magenta") if run.id == marked else Text(" ")
            status = Text(run.status, style=STATUS_STYLES.get(run.status, ""))
            self.add_row(mark, str(run.id), when(run.started_at), status, cached_count(run), ratio_bar(hit_ratio(run)),
                         human_duration(run.duration_s) if run.duration_s is not None else "—", import_text(run),
                         key=str(run.id))
        if runs:
            self.move_cursor(row=min(keep, len(runs) - 1))
