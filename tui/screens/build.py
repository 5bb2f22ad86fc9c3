"""The Build screen: the current build, live. Steps with their cache state, the hit-ratio meter,
the cache import/export outcome, where the cache broke, warnings, a cold-build banner, the
selected step's logs, and the equivalent command line.

Updates arrive through `app.build_progress` (job, snapshot): snapshots the build worker took
of the model between two lines of the stream, posted in messages that replace queued ones (so
at most one redraw is ever pending). A snapshot that arrives less than FRAME_S after the last
redraw is kept and drawn by a timer FRAME_S after that redraw (the newest one wins; the 10 Hz tick
is the backstop); one that arrives later is drawn at once, and so are a new build and its end. So
the screen redraws at most ten times a second however fast the worker posts (the worker posts
once per read of the engine's output, which for a flood is every ~30 ms), and the UI thread,
which shares the GIL with the worker, spends its time on keys and the stream rather than on
frames nobody can read. The tick also moves spinners and running times. Logs are
copied from the selected step's bounded buffer (a copy that retries if the worker appended
meanwhile). Nothing here blocks, and nothing here iterates the model while it is being fed."""

from __future__ import annotations

import gc
import time
from typing import Any, Iterable

from rich.text import Text
from textual import on
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.reactive import Reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Header, Input, Static

from .. import buildview as bv
from ..widgets.cache_overview import (BuildStatus, CachePhases, ColdBanner, HitMeter, RootMisses, WarningsPanel,
                                     set_text)
from ..widgets.footer import StableFooter
from ..widgets.one_layout import OneLayoutHorizontal, OneLayoutStatic, OneLayoutVertical
from ..widgets.step_logs import StepLogs
from ..widgets.step_table import StepTable

FRAME_S = 0.1  # while a build streams, progress redraws the screen at most this often


class BuildScreen(Screen):
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (150, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]
    BINDINGS = [
        Binding("b", "app.build", "Build"),
        Binding("c", "app.cancel_build", "Cancel"),
        Binding("r", "app.rebuild", "Rebuild", show=False),
        Binding("a", "app.set_build_args", "Build args", show=False),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("y", "copy_command", "Copy"),
        Binding("escape", "back", "Back", show=False),
        Binding("enter", "details", "Details", show=False),
    ]

    # Screen.focused repaints the whole screen when focus moves (a full compositor update of
    # every widget on each `/` and Esc); the widgets whose look depends on focus (:focus borders,
    # the table's cursor) refresh themselves when their styles update, so here it does not.
    focused: Reactive[Widget | None] = Reactive(None, repaint=False)

    def __init__(self) -> None:
        super().__init__()
        self.job: Any = None
        self.snapshot = bv.Snapshot()
        self.follow = True  # select the running step automatically until the user picks one
        self._pending: bv.Snapshot | None = None  # a snapshot kept for the timer (see FRAME_S)
        self._drawn_at = 0.0  # time.monotonic() of the last redraw
        self._pending_timer = False  # a timer will draw `_pending`

    def compose(self) -> ComposeResult:
        yield Header()
        yield ColdBanner(id="cold")
        with OneLayoutVertical(id="overview"):
            yield BuildStatus(id="status")
            with OneLayoutHorizontal(id="cache-row"):
                with OneLayoutVertical(id="meter-col"):
                    yield HitMeter(id="meter")
                    yield RootMisses(id="root-misses")
                yield CachePhases(id="phases")
            yield OneLayoutStatic(id="build-error")
            yield WarningsPanel(id="warnings")
        with OneLayoutHorizontal(id="main"):
            with OneLayoutVertical(id="left"):
                with OneLayoutVertical(id="steps-pane"):
                    yield OneLayoutStatic(id="empty")
                    yield StepTable(id="steps")
                    yield Input(placeholder="filter steps: words in the name, or cached / running / done / error",
                                id="filter")
                yield StepLogs(id="logs")
            yield OneLayoutStatic(id="sidebar")
        yield OneLayoutStatic(id="command")
        yield StableFooter(compact=True)

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one("#logs", StepLogs).border_title = "Logs"
        self.query_one("#steps", StepTable).border_title = "Steps"
        self.query_one("#sidebar", Static).border_title = "Step"
        self.app.build_progress.subscribe(self, self._on_build_progress, immediate=True)
        self.app.state_changed.subscribe(self, self._on_state_changed)
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.redraw())
        self.ticker = self.set_interval(1 / 10, self._tick)
        self.job = self.app.state.current
        self.redraw()
        self.call_after_refresh(_warm_build_imports)

    # --- updates ----------------------------------------------------------------------------

    def _on_build_progress(self, data: tuple[Any, Any]) -> None:
        job, snapshot = data
        if job is not None and job is not self.job:
            self.job = job
            self.follow = True
            self.query_one("#logs", StepLogs).show_step(None)
        elif isinstance(snapshot, bv.Snapshot) and self._being_fed():
            wait = FRAME_S - (time.monotonic() - self._drawn_at)
            if wait > 0:  # drawn moments ago: this one (or a newer) is drawn FRAME_S after that
                self._pending = snapshot
                if not self._pending_timer:
                    self._pending_timer = True
                    self.set_timer(wait, self._draw_pending)
                return
        self.redraw(snapshot)

    def _draw_pending(self) -> None:
        self._pending_timer = False
        if self._pending is not None:
            self.redraw(self._pending)

    def _on_state_changed(self, fields: set[str]) -> None:
        if not self.app.state.building:
            self.redraw()

    def _now(self) -> float:
        return self.app.clock()

    def _tick(self) -> None:
        job = self.job
        if self._pending is not None:  # the timer draws it on time; this is the backstop
            if time.monotonic() - self._drawn_at >= FRAME_S:
                self.redraw(self._pending)
            return
        if job is not None and job.running and job.handle is not None and self.app.take_quiet_snapshot(job):
            return  # published: drawn now, or FRAME_S after the last redraw
        if time.monotonic() - self._drawn_at < FRAME_S * 0.9:
            return  # a redraw just did this
        if self.job is not None and self.job.running and self.is_attached:
            self._draw_status()
            self.query_one("#steps", StepTable).show(self.snapshot.steps, self._now())

    def _being_fed(self) -> bool:
        job = self.job
        return job is not None and job.running and job.handle is not None

    def redraw(self, snapshot: bv.Snapshot | None = None) -> None:
        """Redraw from `snapshot`; without one, read the model, unless a worker is feeding it
        (then the worker's last snapshot is the truth until its next one)."""
        job = self.job
        model = job.model if job is not None else None
        self._pending = None  # what it held is older than what is drawn now
        self._drawn_at = time.monotonic()
        if isinstance(snapshot, bv.Snapshot):
            self.snapshot = snapshot
        elif self._being_fed():
            self.snapshot = job.snapshot or self.snapshot
        else:
            self.snapshot = bv.Snapshot.take(model)
        snap = self.snapshot
        empty = self.query_one("#empty", Static)
        table = self.query_one("#steps", StepTable)
        has_steps = bool(snap.steps)
        appearing = has_steps and not table.display
        empty.display = not has_steps
        table.display = has_steps
        self.query_one("#logs", StepLogs).display = job is not None
        if not has_steps:
            set_text(empty, self._empty_text())
        self._draw_status()
        self.query_one("#meter", HitMeter).show(snap.summary)
        self.query_one("#root-misses", RootMisses).show(snap.root_misses)
        s = self.app.state
        planned: Any = s if job is None else job.request  # a replayed build has no request
        self.query_one("#phases", CachePhases).show(
            model,
            import_enabled=not getattr(planned, "no_import", False),
            export_enabled=not getattr(planned, "no_export", False),
            ref=getattr(planned, "cache_ref", None),
        )
        self.query_one("#warnings", WarningsPanel).show(snap.warnings)
        self._draw_error()
        self.query_one("#cold", ColdBanner).show(model)
        table.show(snap.steps, self._now())
        if appearing:
            table.expect_size(empty.outer_size)  # it takes the empty state's place
        if has_steps and self.focused is None and self.app.screen is self:
            table.focus()  # the keys work on the steps as soon as there are any
        self._follow_running()
        self._draw_logs()
        self._draw_command()

    def _empty_text(self) -> Text:
        s = self.app.state
        job = self.job
        text = Text()
        if job is not None and job.running:
            text.append(f"{bv.spinner(self._now())} ", style="bold")
            text.append(job.phase or "starting the build", style="bold")
            text.append("\nSteps appear here as BuildKit reports them.", style="dim")
            return text
        if job is not None and job.error is not None:
            text.append("The build did not start: ", style="bold")
            text.append(getattr(job.error, "message", str(job.error)))
            fix = getattr(job.error, "fix", None)
            if fix:
                text.append(f"\nFix: {fix}")
            text.append("\n\nb tries again.", style="dim")
            return text
        if job is not None:  # it ended before BuildKit reported a step (e.g. a Dockerfile error)
            ended = {"success": "succeeded, but BuildKit ran no step (the Dockerfile has none it runs)",
                     "cancelled": "was cancelled before any step ran"}.get(job.outcome, f"{job.outcome} before any step ran")
            text.append(f"The build {ended}", style="bold")
            error = self.snapshot.error
            if error and job.outcome != "success":
                text.append(": " + " ".join(str(error).split()))
            text.append("\n\nb tries again.", style="dim")
            return text
        if not s.builder and s.notices:
            text.append("Nothing to build with yet.\n", style="bold")
            for notice in s.notices:
                text.append(f"{notice}\n")
            text.append("\nb still tries BUILDKIT_HOST and the sandbox at build time.", style="dim")
            return text
        text.append("No build yet.\n\n", style="bold")
        text.append("b", style="bold reverse")
        text.append(" builds ")
        text.append(str(s.project.name if s.project else "the project"), style="bold")
        text.append(" with the registry cache ")
        text.append(s.cache_ref or "(none: pick one on Registries, key 3)", style="bold")
        text.append(f"\nEngine {s.engine} · builder {s.builder or 'from BUILDKIT_HOST or the sandbox'} · "
                    f"cache mode {s.cache_mode}", style="dim")
        text.append("\n\nThen every step shows CACHED or why it ran; 2 picks another project, ? shows the keys.",
                    style="dim")
        return text

    def _draw_status(self) -> None:
        job, snap, now = self.job, self.snapshot, self._now()
        if job is None:
            status = "idle"
        elif job.running:
            status = "running"
        else:
            status = job.outcome if job.outcome != "error" else "error"
        elapsed = None
        if snap.first_time is not None:
            end = now if status == "running" and job is not None and job.handle is not None else snap.last_time
            elapsed = max(0.0, (end or snap.first_time) - snap.first_time)
        elif job is not None and job.running and job.started_at:
            elapsed = max(0.0, now - job.started_at)
        summary = snap.summary or {}
        total = int(summary.get("steps", len(snap.steps)))
        finished = total - int(summary.get("pending", 0)) - int(summary.get("running", 0))
        s = self.app.state
        request = job.request if job is not None else None
        parts = [str(s.project.name) if s.project else "", getattr(request, "engine", s.engine)]
        if job is not None and job.running and job.phase and not snap.steps:
            parts.append(job.phase)
        self.query_one("#status", BuildStatus).show(status, elapsed, finished, total, " · ".join(p for p in parts if p), now)

    def _draw_error(self) -> None:
        """The build's own error (failed to solve: ...), one line; Enter on the step shows it all."""
        box = self.query_one("#build-error", Static)
        job, snap = self.job, self.snapshot
        error = snap.error if job is not None and not job.running else None
        stopped = getattr(job, "error", None) if job is not None and not job.running and snap.steps else None
        if getattr(stopped, "message", None):  # e.g. builder connection lost: clearer than BuildKit's words
            fix = getattr(stopped, "fix", None)
            error = stopped.message + (f" Fix: {fix}" if fix else "")
        if not error:
            box.display = False
            return
        failed = [s for s in snap.steps if bv.state_of(s) == "error"]
        text = Text()
        text.append("Error ", style="bold")
        if failed and not stopped:
            text.append(f"in {failed[0].name}: ", style="bold")
        text.append(" ".join(str(error).split()))
        set_text(box, text, layout=False)
        box.display = True

    def _follow_running(self) -> None:
        table = self.query_one("#steps", StepTable)
        if not self.follow or not self.snapshot.steps:
            return
        running = [s for s in self.snapshot.steps if bv.state_of(s) == "running"]
        target = None
        if running:
            target = max(running, key=lambda s: bv.ts(s.started) or 0)
        elif self.job is not None and not self.job.running:
            # a finished build: its failed step, else where the cache broke
            errors = [s for s in self.snapshot.steps if bv.state_of(s) == "error"]
            roots = [s for s in self.snapshot.steps if s.name in set(self.snapshot.root_misses)]
            target = (errors or roots or [None])[0]
        if target is not None:
            table.select_key(str(target.id))

    def selected_step(self) -> Any:
        key = self.query_one("#steps", StepTable).selected_key()
        for s in self.snapshot.steps:
            if str(s.id) == key:
                return s
        return None

    def _draw_logs(self) -> None:
        step = self.selected_step()
        why = ""
        if step is not None and bv.state_of(step) in ("done", "error"):
            why = bv.miss_text(getattr(step, "miss", None))
            why = f"why it ran: {why}" if why else ""
        self.query_one("#logs", StepLogs).show_step(step, why)
        sidebar = self.query_one("#sidebar", Static)
        if self.has_class("-wide"):
            from .step_details import describe

            set_text(sidebar, describe(step, self._now()) if step is not None
                     else Text("Select a step to see why it ran.", style="dim"))

    def _draw_command(self) -> None:
        job = self.job
        line = (job.command_line if job is not None and job.command_line else "") or self.app.command_line_text
        text = Text()
        text.append("$ ", style="bold")
        text.append(line or "…", style="")
        text.append("   y copies", style="dim")
        set_text(self.query_one("#command", Static), text, layout=False)

    # --- events -----------------------------------------------------------------------------

    @on(StepTable.RowHighlighted, "#steps")
    def _on_row(self, event: StepTable.RowHighlighted) -> None:
        table = self.query_one("#steps", StepTable)
        if table.user_moved:
            table.user_moved = False
            self.follow = False
        elif self.query_one("#logs", StepLogs).step_id == event.row_key:
            return  # the redraw that moved the cursor (following the running step) drew these logs
        self._draw_logs()

    @on(StepTable.RowSelected, "#steps")
    def _on_row_selected(self, event: StepTable.RowSelected) -> None:
        self.action_details()

    @on(Input.Changed, "#filter")
    def _on_filter(self, event: Input.Changed) -> None:
        table = self.query_one("#steps", StepTable)
        table.filter_text = event.value.strip()
        table.show(self.snapshot.steps, self._now())
        self._draw_logs()

    @on(Input.Submitted, "#filter")
    def _on_filter_done(self) -> None:
        self.query_one("#steps", StepTable).focus()

    # --- actions ----------------------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        # focus now, not through a deferred call: the footer's bindings then change before the
        # key's first frame, instead of costing a second layout and frame after it
        self.set_focus(box)
        self._footer_now()

    def _footer_now(self) -> None:
        """The footer's keys follow the focus move in the key's own frame: set_focus announces the
        new bindings after the next frame, and the footer takes the announcement as a message of
        its own, so its dimmed keys cost a second frame (and screen update) after each `/` and Esc.
        The announcements that still come find the footer up to date and change nothing."""
        self.query_one(StableFooter).bindings_changed(self)

    def action_back(self) -> None:
        box = self.query_one("#filter", Input)
        if box.display:
            box.value = ""
            box.display = False
            self.set_focus(self.query_one("#steps", StepTable))  # now: see action_filter
            self._footer_now()
        elif not self.follow and self.job is not None and self.job.running:
            self.follow = True
            self._follow_running()

    def action_details(self) -> None:
        from .step_details import StepDetailsScreen

        step = self.selected_step()
        if step is not None:
            self.app.push_screen(StepDetailsScreen(step, self._now()))

    def action_copy_command(self) -> None:
        job = self.job
        line = (job.command_line if job is not None and job.command_line else "") or self.app.command_line_text
        if not line or line.startswith("#"):
            self.notify("No command line yet: " + (line.lstrip("# ") or "the build request is incomplete."),
                        severity="warning", timeout=5)
            return
        self.app.copy_to_clipboard(line)
        self.notify(line, title="Copied to the clipboard", timeout=6)

    def screen_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Filter steps", "Show only the steps matching words (key /)", self.action_filter)
        yield SystemCommand("Copy command line", "Copy the equivalent command line for CI (key y)",
                            self.action_copy_command)
        yield SystemCommand("Step details", "Everything about the selected step (Enter)", self.action_details)


def _warm_build_imports() -> None:
    """The build worker imports these when a build starts (~50 ms: the model, the miss
    explanations, history and sqlite3); imported here after the first frame, the first build
    does not pay for them while its stream is already arriving."""
    from railpack_tui.core import cachedebug, explain, history, model, refs  # noqa: F401

    global _frozen
    if not _frozen:
        # The objects alive now (modules, widgets, styles: ~60k) live as long as the app. Moved
        # out of the collector's reach, the full collection a build's allocations trigger scans
        # only what came later: it cost 28-47 ms on the UI thread during the 40 MB replay (in a
        # key's frame, when it lands there). Once per process: a later app's garbage stays collectable.
        gc.freeze()
        _frozen = True


_frozen = False
