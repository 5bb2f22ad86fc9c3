"""History: the open project's past builds from core/history.py (time, status, cached steps, hit
ratio, duration, cache import) with sparklines of hit ratio and duration, and a compare of two
builds step by step (Enter: the highlighted build against the one before it, or against the build
marked with Space). The database is read in thread workers that post `HistoryLoaded` and
`CompareReady`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static

from ..widgets.history_diff import RunDiff, compare
from ..widgets.history_runs import HistoryTrends, RunsTable
from .history_compare import CompareScreen
from .state_screen import StateScreen

LIMIT = 50


class HistoryLoaded(Message):
    def __init__(self, project: Path | None, runs: list[Any], notices: list[str]) -> None:
        super().__init__()
        self.project = project
        self.runs = runs
        self.notices = notices


class CompareReady(Message):
    def __init__(self, diff: RunDiff) -> None:
        super().__init__()
        self.diff = diff


class HistoryScreen(StateScreen):
    """The History mode (key 4)."""

    CSS_PATH = "history.tcss"

    AUTO_FOCUS = "#history-runs"
    BINDINGS = [
        Binding("enter", "compare", "Compare"),
        Binding("space", "mark", "Mark A"),
        Binding("ctrl+r", "reload", "Reload"),
    ]

    def __init__(self, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.runs: list[Any] = []
        self.marked: int | None = None
        self.project: Path | None = None
        self.noticed: set[str] = set()  # the database's notices already shown (it keeps them all)

    def compose(self) -> ComposeResult:
        yield Header()
        trends = HistoryTrends(id="history-trends")
        trends.border_title = "Trends"
        yield trends
        with Vertical(id="history-runs-pane", classes="pane") as pane:
            pane.border_title = "Builds"
            yield Static("", id="history-empty")
            yield RunsTable(id="history-runs")
            yield Static(Text.assemble(("enter", "bold"), " compare with the build before  ", ("space", "bold"),
                                       " mark a build to compare with  ", ("ctrl+r", "bold"), " reload"), id="history-hint")
        yield Footer()

    def state_changed(self, fields: set[str]) -> None:
        if fields & {"project", "current"}:
            self.action_reload()

    def on_screen_resume(self) -> None:
        # also the first load: Textual mounts a screen before it handles the ScreenResume that shows it
        if self.is_mounted:
            self.action_reload()

    def screen_commands(self):
        """What the command palette offers on this screen."""
        yield SystemCommand("History: compare", "The highlighted build with the one before it, or the marked one (enter)",
                            self.action_compare)
        yield SystemCommand("History: mark for compare", "Pick the build to compare with (space)", self.action_mark)
        yield SystemCommand("History: reload", "Read the build history again (ctrl+r)", self.action_reload)

    # -- loading --------------------------------------------------------------------------------
    def action_reload(self) -> None:
        project = getattr(self.app_state(), "project", None)
        self.load(Path(project) if project else None)

    @work(thread=True, exclusive=True, group="history-load", exit_on_error=False)
    def load(self, project: Path | None) -> None:
        from railpack_tui.core import history

        if project is None:
            self.post_message(HistoryLoaded(None, [], []))
            return
        db = history.default()
        self.post_message(HistoryLoaded(project, db.runs(project, limit=LIMIT), list(db.notices)))

    def on_history_loaded(self, message: HistoryLoaded) -> None:
        self.project = message.project
        self.runs = message.runs
        if self.marked is not None and all(r.id != self.marked for r in self.runs):
            self.marked = None
        name = message.project.name if message.project else "no project"
        pane = self.query_one("#history-runs-pane")
        pane.border_title = f"Builds of {name}"
        pane.border_subtitle = f"{len(self.runs)} recorded" if self.runs else ""
        empty = self.query_one("#history-empty", Static)
        if not self.runs:
            empty.update("No builds recorded for this project yet: press b to build it." if message.project
                         else "No project is open: pick one on the Projects screen (2).")
        empty.display = not self.runs
        self.query_one(RunsTable).show(self.runs, self.marked)
        self.query_one(HistoryTrends).show(self.runs)
        for notice in message.notices:
            if notice not in self.noticed:
                self.noticed.add(notice)
                self.notify(notice, title="History", severity="warning", timeout=10)

    # -- compare --------------------------------------------------------------------------------
    def _highlighted(self) -> Any:
        table = self.query_one(RunsTable)
        if not self.runs or table.row_count == 0:
            return None
        row = table.cursor_row
        return self.runs[row] if 0 <= row < len(self.runs) else None

    def action_mark(self) -> None:
        run = self._highlighted()
        if run is None:
            return
        self.marked = None if self.marked == run.id else run.id
        self.query_one(RunsTable).show(self.runs, self.marked)

    def pair(self) -> tuple[Any, Any] | None:
        """(older, newer): the highlighted build with the marked one, else with the build before it."""
        run = self._highlighted()
        if run is None:
            return None
        other = None
        if self.marked is not None and self.marked != run.id:
            other = next((r for r in self.runs if r.id == self.marked), None)
        if other is None:
            index = self.runs.index(run)
            other = self.runs[index + 1] if index + 1 < len(self.runs) else None
        if other is None:
            return None
        return (other, run) if other.id < run.id else (run, other)

    def action_compare(self) -> None:
        pair = self.pair()
        if pair is None:
            self.notify("Compare needs two builds: this is the first one recorded." if self.runs
                        else "Compare needs two builds: none is recorded for this project yet (b builds it).", timeout=4)
            return
        self.compare_worker(*pair)

    @work(thread=True, exclusive=True, group="history-compare", exit_on_error=False)
    def compare_worker(self, a: Any, b: Any) -> None:
        self.post_message(CompareReady(compare(a, b)))

    def on_compare_ready(self, message: CompareReady) -> None:
        self.app.push_screen(CompareScreen(message.diff))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_compare()
