"""The dashboard: one App with four modes, `build`, `projects`, `registries` and `history`
(keys 1-4), sharing one `AppState` (`self.app.state`, see tui/state.py).

For the screens: read `self.app.state`; change it with `self.app.update_state(field=value)`;
hear of changes with `self.app.state_changed.subscribe(self, callback)`; ask for a build with
`self.app.start_build()` (or post `messages.RequestBuild()`); hand any core.errors exception to
`self.app.report_error(exc)` (the one place errors become notifications); show a build that did
not run here (a past run) with `self.app.show_build(model)`; hear of a build's progress and end
with `self.app.build_progress.subscribe(self, callback)` (callback((job, snapshot))). A screen may
define `screen_commands()` yielding SystemCommands: the command palette adds them.

Builds run in a thread worker through core/runner.py (BuildRun). The runner feeds the BuildModel
and reports after every line; at most SNAPSHOT_HZ times a second the worker (the model's only
writer, idle at that moment) takes a buildview.Snapshot and posts it in a message that replaces
any still queued: the worker never waits for the UI, the UI never iterates the model while it is
being fed, and a flood of events becomes a steady redraw rate.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.signal import Signal
from textual.worker import Worker, WorkerState

from railpack_tui import themes
from railpack_tui.core import crashlog
from railpack_tui.core.defaults import Setup
from railpack_tui.core.errors import EnvironmentProblem, RailpackTuiError

from . import messages
from .buildview import Snapshot
from .fixes import for_dashboard
from .state import AppState, BuildJob, Settings

# mode -> (module, class, title)
SCREENS: dict[str, tuple[str, str, str]] = {
    "build": ("railpack_tui.tui.screens.build", "BuildScreen", "Build"),
    "projects": ("railpack_tui.tui.screens.projects", "ProjectsScreen", "Projects"),
    "registries": ("railpack_tui.tui.screens.registries", "RegistriesScreen", "Registries"),
    "history": ("railpack_tui.tui.screens.history", "HistoryScreen", "History"),
}
MODE_KEYS = {"1": "build", "2": "projects", "3": "registries", "4": "history"}
TERMINATING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
SNAPSHOT_HZ = 30  # most snapshots of a running build per second
ENGINES = ("buildkit", "buildx", "railpack")
ENGINE_HELP = {"buildkit": "buildctl straight to BuildKit", "buildx": "docker buildx (python-on-whales)",
               "railpack": "Railpack's plan through BuildKit"}
CACHE_MODE_HELP = {"max": "Export every step's layers to the cache (best hit rate)",
                   "min": "Export only the final result's layers (smaller cache)"}


def _screen_factory(mode: str) -> Callable[[], Screen]:
    """Import a mode's screen when it is first shown; a broken module gives a screen that says so."""
    module_name, class_name, title = SCREENS[mode]

    def make() -> Screen:
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
            return cls()
        except Exception as exc:  # a screen that fails to load must not take the app down
            from .screens.unavailable import UnavailableScreen

            crashlog.record(exc)
            return UnavailableScreen(title, f"{type(exc).__name__}: {exc}")

    return make


class RailpackTUI(App):
    """railpack-tui's dashboard."""

    TITLE = "railpack-tui"
    CSS_PATH = "app.tcss"
    MODES = {mode: _screen_factory(mode) for mode in SCREENS}
    DEFAULT_MODE = "build"
    BINDINGS = [
        Binding("1", "go('build')", "Screens", key_display="1-4"),
        Binding("2", "go('projects')", "Projects", show=False),
        Binding("3", "go('registries')", "Registries", show=False),
        Binding("4", "go('history')", "History", show=False),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
        Binding("b", "build", "Build"),
        Binding("r", "rebuild", "Rebuild", show=False),
        Binding("c", "cancel_build", "Cancel", show=False),
        Binding("t", "test_registry", "Test registry", show=False),
        Binding("T", "cycle_theme", "Theme", show=False),
        # priority: focus moves before the next key is routed, so a burst (paste, autotype)
        # typed after Tab lands in the next field instead of the one Tab was pressed in
        Binding("tab", "focus_next", "Next field", show=False, priority=True),
        Binding("shift+tab", "focus_previous", "Previous field", show=False, priority=True),
    ]

    def __init__(self, setup: Setup, *, settings: Settings | None = None, theme: str | None = None,
                 clock: Callable[[], float] | None = None, handle_signals: bool = False) -> None:
        super().__init__()
        self.setup = setup
        # run_app (the real process) only: SIGTERM/SIGHUP stop the build and quit (tests keep theirs)
        self.handle_signals = handle_signals
        self.terminated_by: int | None = None
        self.state = AppState.from_setup(setup, settings)
        self.state_changed: Signal[set[str]] = Signal(self, "state-changed")
        # (job, snapshot) whenever the current build moved on; snapshot None: read the (idle) model
        self.build_progress: Signal[tuple[Any, Any]] = Signal(self, "build-progress")
        self.command_line_text = ""
        # the clock behind spinners and running times; tests pass a fixed one
        self.clock: Callable[[], float] = clock or time.time
        for t in themes.THEMES:
            self.register_theme(t)
        wanted = theme or self.state.settings.theme
        self.theme = wanted if wanted in self.available_themes else themes.DEFAULT
        self.sub_title = self._subtitle()

    # --- lifecycle --------------------------------------------------------------------------

    def on_mount(self) -> None:
        if self.handle_signals:
            self._handle_terminating_signals()
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        for notice in self.state.notices:
            self.notify(notice, title="Setup", severity="warning", timeout=12)
        self.refresh_command_line()

    def _remember_theme(self, theme: Any) -> None:
        self.state.settings.theme = theme.name

    def _subtitle(self) -> str:
        project = self.state.project.name if self.state.project else "no project"
        return f"{project} · {self.state.cache_ref or 'no cache ref'}"

    # --- state --------------------------------------------------------------------------------

    def update_state(self, **changes: Any) -> set[str]:
        """Change AppState fields and tell every subscriber which ones changed."""
        changed = self.state.apply(**changes)
        if changed:
            self.sub_title = self._subtitle()
            self.state_changed.publish(changed)
            self.refresh_command_line()
        return changed

    # --- errors: the one place a problem becomes a notification ---------------------------

    def report_error(self, error: BaseException, context: str = "") -> None:
        prefix = f"{context}: " if context else ""
        if isinstance(error, RailpackTuiError):
            error = for_dashboard(error)
            text = prefix + error.message + (f"\nFix: {error.fix}" if error.fix else "")
            self.notify(text, title=error.kind.replace("-", " ").capitalize(), severity="error", timeout=15)
        else:
            where = crashlog.record(error)
            self.notify(f"{prefix}unexpected {type(error).__name__}: {error}\nDetails: {where}",
                        title="Unexpected error", severity="error", timeout=20)

    def _handle_exception(self, error: Exception) -> None:
        """An exception nobody caught in a handler (Textual's message loop has stopped by now, so
        the app must end, as Textual does): one line and the crash log instead of a traceback on the
        user's terminal. Workers and build errors never get here: they go through report_error."""
        where = crashlog.record(error)
        self._return_code = getattr(error, "exit_code", 1) if isinstance(error, RailpackTuiError) else 1
        if self._exception is None:  # pilot tests re-raise it
            self._exception = error
            self._exception_event.set()
        if isinstance(error, RailpackTuiError):
            line = f"railpack-tui: {error}"
        else:
            line = f"railpack-tui: unexpected {type(error).__name__}: {error} (details: {where})"
        self._exit_renderables.append(line)
        self._close_messages_no_wait()

    @on(messages.ProblemReported)
    def _on_problem(self, message: messages.ProblemReported) -> None:
        self.report_error(message.error, message.context)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.report_error(event.worker.error, event.worker.name or "")

    # --- navigation ---------------------------------------------------------------------------

    def action_go(self, mode: str) -> None:
        if mode in self.MODES:
            # a modal (help, details) on top closes first so the keys land where the user looks
            while len(self.screen_stack) > 1:
                self.pop_screen()
            self.switch_mode(mode)

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_cycle_theme(self) -> None:
        self.theme = themes.next_theme(self.theme)
        self.notify(f"Theme: {self.theme}", timeout=2)

    def action_set_theme(self, name: str) -> None:
        if name in self.available_themes:
            self.theme = name

    async def action_test_registry(self) -> None:
        """Delegated to the Registries screen: it tests the project's cache ref (`test_cache_ref`),
        whichever row was highlighted there before."""
        await self.switch_mode("registries")
        test = getattr(self.screen, "test_cache_ref", None)
        if test is not None:
            self.call_after_refresh(test)

    # --- builds -------------------------------------------------------------------------------

    def action_build(self) -> None:
        self.start_build()

    def action_rebuild(self) -> None:
        self.start_build(rebuild=True)

    def action_cancel_build(self) -> None:
        self.cancel_build()

    @on(messages.RequestBuild)
    def _on_request_build(self, message: messages.RequestBuild) -> None:
        self.start_build(rebuild=message.rebuild)

    @on(messages.RequestCancel)
    def _on_request_cancel(self) -> None:
        self.cancel_build()

    def build_request(self) -> Any:
        """The core BuildRequest for the current state (the runner validates it and resolves the
        builder: no builder, a bad ref or a missing Dockerfile come back as core.errors)."""
        from railpack_tui.core.runner import BuildRequest

        s = self.state
        if s.project is None:
            raise EnvironmentProblem("no project is open.", fix="pick one on the Projects screen (key 2)")
        return BuildRequest(path=str(s.project), cache_ref=s.cache_ref, engine=s.engine, builder=s.builder,
                            mode=s.cache_mode, no_import=s.no_import, no_export=s.no_export,
                            ignore_export_error=s.ignore_export_error, build_args=dict(s.build_args),
                            cache_username=self._cache_username())

    def _cache_username(self) -> str | None:
        """The username saved with the cache ref on the Registries screen (its test runs as it:
        so does the build), or None (the registry's newest login)."""
        from .widgets.registries_store import load_refs

        ref = self.state.cache_ref
        return next((s.username for s in load_refs(self.state.settings) if s.ref == ref and s.username), None)

    def start_build(self, rebuild: bool = False) -> BuildJob | None:
        """Build the current project in a thread worker; None (with a notification) if it cannot start.
        `rebuild` repeats the last build's request when there is one."""
        if self.state.building:
            self.notify("A build is already running (c cancels it).", severity="warning", timeout=4)
            return None
        try:
            from railpack_tui.core.runner import BuildRun

            last = self.state.current
            if rebuild and last is not None and last.request is not None and last.handle is not None:
                request = last.request
            else:
                request = self.build_request()
        except Exception as exc:
            self.report_error(exc, "cannot start the build")
            return None
        job = BuildJob(request=request, started_at=self.clock(), phase="starting",
                       command_line=self.command_line_text or "")
        job.handle = BuildRun(request, on_event=lambda event: self._on_run_event(job, event))
        self.state.current = job
        self.state.runs.append(job)
        self.action_go("build")
        self.state_changed.publish({"current"})
        self._build_worker(job)
        return job

    def show_build(self, model: Any, request: Any = None, command_line: str = "") -> BuildJob:
        """Show a build that did not run here (a replayed stream, a past run) on the Build screen."""
        finished = bool(getattr(model, "finished", False))
        job = BuildJob(request=request, model_override=model, command_line=command_line,
                       outcome=(getattr(model, "status", "success") if finished else "running"))
        self.state.current = job
        self.state.runs.append(job)
        self.state_changed.publish({"current"})
        self.build_progress.publish((job, None))
        return job

    def cancel_build(self) -> bool:
        job = self.state.current
        if job is None or not job.running or job.handle is None:
            self.notify("No build is running.", timeout=3)
            return False
        job.cancel_requested = True
        job.phase = "cancelling"
        job.handle.cancel()
        self.notify("Cancelling the build...", timeout=3)
        self.build_progress.publish((job, None))
        return True

    def _on_run_event(self, job: BuildJob, event: Any) -> None:
        """Called by the runner in the worker thread after every read of the stream, so the model
        is not being written while this runs: this is where it is read. At most SNAPSHOT_HZ times a
        second the worker takes a buildview.Snapshot and posts it in a message that replaces any
        still queued: the worker never waits for the UI, the UI never iterates the model while it
        is being fed, and a flood of events becomes a steady redraw rate. A change that arrives
        inside the interval and is followed by silence is picked up by the Build screen's tick
        (`take_quiet_snapshot`)."""
        kind = getattr(event, "kind", "")
        if kind == "output":
            job.output.append(event.message)
            del job.output[:-50]
        if kind == "finished":
            job.result = event.result
            return
        if kind == "phase":
            job.phase = event.message
        now = time.monotonic()
        job.event_seq += 1
        job.last_event = now
        if kind != "phase" and now - job.last_snapshot < 1 / SNAPSHOT_HZ:
            return
        seq = job.event_seq
        model = job.model
        if model is not None:
            job.snapshot = Snapshot.take(model)
        job.last_snapshot = now
        job.snap_seq = seq
        self.post_message(messages.BuildProgress(job, job.snapshot))

    def take_quiet_snapshot(self, job: BuildJob, quiet_s: float = 0.1) -> bool:
        """UI thread: when the stream has been silent for `quiet_s` (the worker is waiting for the
        next line) and changed since the last snapshot, take one now. True if it did."""
        seq = job.event_seq
        if seq == job.snap_seq or time.monotonic() - job.last_event < quiet_s or job.model is None:
            return False
        job.snapshot = Snapshot.take(job.model)  # retries if the worker woke up meanwhile
        job.snap_seq = seq
        self.build_progress.publish((job, job.snapshot))
        return True

    @on(messages.BuildProgress)
    def _on_build_progress_message(self, message: messages.BuildProgress) -> None:
        self.build_progress.publish((message.run, message.snapshot))

    @work(thread=True, group="build", exit_on_error=False, name="build")
    def _build_worker(self, job: BuildJob) -> None:
        try:
            result = job.handle.run()
        except Exception as exc:  # the runner turns known problems into result.error; this is the rest
            job.error = exc
            result = None
        job.result = result if result is not None else job.result
        job.finished_at = self.clock()
        if result is not None:
            job.command_line = result.command_line or job.command_line
            job.error = job.error or result.error
            job.outcome = "cancelled" if (result.cancelled or job.cancel_requested) else result.status
            if result.error is not None:  # stopped before or outside BuildKit (no builder, bad input...)
                job.outcome = "cancelled" if job.cancel_requested else "error"
        else:
            job.outcome = "error"
        if job.error is not None:
            job.error = for_dashboard(job.error)
        self.post_message(messages.BuildFinished(job))

    @on(messages.BuildFinished)
    def _on_build_finished(self, message: messages.BuildFinished) -> None:
        job = message.run
        job.phase = ""
        if job.error is not None:
            self.report_error(job.error, "build")
        else:
            severity = {"success": "information", "cancelled": "warning"}.get(job.outcome, "error")
            text = {"success": "Build succeeded.", "cancelled": "Build cancelled.", "failed": "Build failed.",
                    "incomplete": "The build stream ended early."}.get(job.outcome, f"Build {job.outcome}.")
            self.notify(text, severity=severity, timeout=5)
        self.build_progress.publish((job, None))
        self.state_changed.publish({"current"})
        self.refresh_command_line()

    async def action_quit(self) -> None:
        self._stop_build()
        self.exit()

    def _stop_build(self) -> None:
        job = self.state.current
        if job is not None and job.running and hasattr(job.handle, "cancel") and not job.cancel_requested:
            job.cancel_requested = True
            job.handle.cancel()  # never leave a buildctl behind

    def on_unmount(self) -> None:
        """The app also ends without `q` (serve's browser tab closed, serve stopped): a build still
        running is cancelled here. Before, it ran to its end (buildctl, the step and the temporary
        Docker config with it) while the dashboard process waited for its worker thread."""
        self._stop_build()

    def _handle_terminating_signals(self) -> None:
        """SIGTERM/SIGHUP end the dashboard through `_terminate`. A plain handler, not the loop's:
        it runs before any other Python handler of the same check, and a hangup comes with a
        SIGCONT whose Textual handler restarts application mode (a second writer thread) in the
        middle of the shutdown; that left the process hanging for good. The SIGCONT handler is
        set aside first."""
        loop = asyncio.get_running_loop()

        def on_signal(signum: int, frame: Any) -> None:
            signal.signal(signal.SIGCONT, signal.SIG_DFL)
            loop.call_soon_threadsafe(self._terminate, signum)

        for sig in TERMINATING_SIGNALS:
            signal.signal(sig, on_signal)

    def _terminate(self, signum: int) -> None:
        """SIGTERM or SIGHUP (the terminal closed): cancel the build (BuildKit records a cancel),
        remove the temporary Docker configs at once and quit; `run_app` then waits for the build
        to end and dies of the signal. Before, the process died where it stood: buildctl and the
        step ran on and the config holding the registry password stayed in $TMPDIR."""
        from railpack_tui.core.runner import stop_all_builds

        self.terminated_by = signum
        self._stop_build()
        stop_all_builds()
        self.exit(return_code=128 + signum)

    # --- the equivalent command line -------------------------------------------------------------

    def refresh_command_line(self) -> None:
        self._command_line_worker()

    @work(thread=True, group="command-line", exclusive=True, exit_on_error=False, name="command line")
    def _command_line_worker(self) -> None:
        try:
            text = self.build_request().command_line()
        except Exception as exc:  # shown in place of the command: why there is none
            text = f"# {getattr(exc, 'message', exc)}"
        self.call_from_thread(self._set_command_line, text)

    def _set_command_line(self, text: str) -> None:
        from railpack_tui.core import masking

        self.command_line_text = masking.known().text(text)
        self.build_progress.publish((self.state.current, None))

    # --- the command palette offers every action ---------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for key, mode in MODE_KEYS.items():
            title = SCREENS[mode][2]
            yield SystemCommand(f"Go to {title}", f"Show the {title} screen (key {key})", lambda m=mode: self.action_go(m))
        yield SystemCommand("Build", "Build the current project with its cache ref (key b)", self.action_build)
        yield SystemCommand("Rebuild", "Build again with the same settings (key r)", self.action_rebuild)
        yield SystemCommand("Cancel build", "Stop the running build (key c)", self.action_cancel_build)
        yield SystemCommand("Test registry", "Check the cache ref's registry: connect, auth, pull, push (key t)",
                            self.action_test_registry)
        yield SystemCommand("Help", "Keys and what each screen shows (key ?)", self.action_help)
        yield SystemCommand("Next theme", "Cycle railpack-dark, railpack-light, railpack-contrast (key T)",
                            self.action_cycle_theme)
        for t in themes.THEMES:
            yield SystemCommand(f"Theme: {t.name}", f"Switch to the {t.name} theme (remembered)",
                                lambda n=t.name: self.action_set_theme(n))
        for engine in ENGINES:
            yield SystemCommand(f"Engine: {engine}", f"Build with {ENGINE_HELP[engine]} (remembered for this project)",
                                lambda e=engine: self._set_option(engine=e))
        for mode in ("max", "min"):
            yield SystemCommand(f"Cache mode: {mode}", CACHE_MODE_HELP[mode], lambda m=mode: self._set_option(cache_mode=m))
        yield SystemCommand("Set build args…", "NAME=VALUE, one a line, for the next build (--build-arg; remembered "
                            "for this project; key a on Build and Projects)", self.action_set_build_args)
        yield SystemCommand("Toggle cache import", "Build without importing the registry cache (or with it again)",
                            lambda: self._set_option(no_import=not self.state.no_import))
        yield SystemCommand("Toggle cache export", "Build without exporting to the registry cache (or with it again)",
                            lambda: self._set_option(no_export=not self.state.no_export))
        yield SystemCommand("Toggle ignore cache export errors",
                            "A failed cache export does not fail the build (ignore-error=true); the Export line "
                            "still says the cache was not saved", lambda: self._set_option(
                                ignore_export_error=not self.state.ignore_export_error))
        yield from getattr(screen, "screen_commands", lambda: [])()

    def action_set_build_args(self) -> None:
        """Edit the build args of the next build in a modal (tui/screens/build_args.py)."""
        from .screens.build_args import BuildArgsScreen

        if isinstance(self.screen, BuildArgsScreen):
            return
        self.push_screen(BuildArgsScreen(self.state.build_args, self.state.project), self._build_args_chosen)

    def _build_args_chosen(self, build_args: dict[str, str] | None) -> None:
        if build_args is None:  # Esc: nothing changes
            return
        self.update_state(build_args=build_args)
        # names only: a value may be something the user would rather not see in a toast
        names = ", ".join(build_args) if build_args else "none"
        self.notify(f"Next build: build args {names} (b builds).", timeout=5)

    def _set_option(self, **change: Any) -> None:
        self.update_state(**change)
        s = self.state
        self.notify(f"Next build: engine {s.engine}, cache mode {s.cache_mode}, import {'off' if s.no_import else 'on'}, "
                    f"export {'off' if s.no_export else 'on'}"
                    f"{', export errors ignored' if s.ignore_export_error and not s.no_export else ''}.", timeout=4)


def run_app(setup: Setup, theme: str | None = None) -> int:
    from textual.theme import BUILTIN_THEMES

    if theme and theme not in themes.NAMES and theme not in BUILTIN_THEMES:
        from railpack_tui.core.errors import BadInput

        raise BadInput(f"unknown theme {theme!r}.",
                       fix=f"use one of {', '.join(themes.NAMES)} (or a Textual theme such as nord)")
    app = RailpackTUI(setup, theme=theme, handle_signals=True)
    try:
        app.run()
    finally:
        for sig in TERMINATING_SIGNALS:  # a second signal now ends the process at once
            signal.signal(sig, signal.SIG_DFL)
        _finish_build(app)
    if app.terminated_by is not None:
        os.kill(os.getpid(), app.terminated_by)  # die of the signal, as its sender expects
    return app.return_code or 0


def _finish_build(app: RailpackTUI, limit_s: float = 15.0) -> None:
    """After the dashboard quit during a build: wait (bounded) for the cancelled build's worker to
    end, so that its engine is reaped, its temporary Docker config removed and the run recorded."""
    from railpack_tui.core import dockerconfig

    job = app.state.current
    deadline = time.monotonic() + limit_s
    while job is not None and job.running and job.handle is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    dockerconfig.remove_all()
