"""Projects: pick a directory (a tree, or a path with completion), reopen a recent one, see what
was detected (Dockerfile stages and steps, or a Railpack app and its plan), and choose the cache
ref and builder for it. Detection reads files, so it runs in a thread worker that posts
`ProjectScanned` back (harlequin style); the UI never waits on the disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DirectoryTree, Footer, Header, Input, OptionList, Static

from railpack_tui.core.errors import RailpackTuiError

from ..widgets.projects_choices import ProjectChoices
from ..widgets.projects_detection import DetectionView, detect_project, kind_of
from ..widgets.projects_path_input import ProjectPathInput, expand, tilde
from ..state import engine_for, kept_builder_applies, remembered_build_args
from ..widgets.projects_recent import RecentProjects
from .state_screen import StateScreen


class ProjectScanned(Message):
    """A detection worker finished: `detection` or `error` (a one-sentence message) is set."""

    def __init__(self, path: Path, detection: Any = None, error: str | None = None, open_it: bool = True) -> None:
        super().__init__()
        self.path = path
        self.detection = detection
        self.error = error
        self.open_it = open_it


class PlanPrepared(Message):
    def __init__(self, path: Path, plan: dict | None = None, error: BaseException | None = None) -> None:
        super().__init__()
        self.path = path
        self.plan = plan
        self.error = error


class ProjectTree(DirectoryTree):
    """Directories only, hidden ones left out, the root shown as `~/...`."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [p for p in paths if not p.name.startswith(".") and self._safe_is_dir(p)]

    async def watch_path(self) -> None:
        await super().watch_path()
        self.root.set_label(tilde(self.path))


class ProjectsScreen(StateScreen):
    """The Projects mode (key 2)."""

    CSS_PATH = "projects.tcss"

    AUTO_FOCUS = "#project-tree"
    BINDINGS = [
        Binding("slash", "focus_path", "Path"),
        Binding("o", "open_highlighted", "Open dir"),
        Binding("ctrl+r", "rescan", "Rescan"),
        Binding("e", "edit_choices", "Cache/builder"),
        Binding("p", "prepare_plan", "Railpack plan", show=False),
        Binding("a", "app.set_build_args", "Build args", show=False),
        Binding("escape", "back", "Back", show=False),
    ]

    def __init__(self, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.detection: Any = None
        self.shown_path: Path | None = None

    # -- layout ---------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="projects-body"):
            with Vertical(id="projects-browse", classes="pane") as browse:
                browse.border_title = "Open a project"
                yield ProjectPathInput(id="project-path")
                yield ProjectTree(self._tree_root(), id="project-tree")
                yield Static("[b]Recent[/b]", id="project-recent-title")
                yield RecentProjects(id="project-recent")
            with Vertical(id="projects-detail"):
                yield Static("", id="project-heading")
                detected = DetectionView(id="project-detected", classes="pane")
                detected.border_title = "Detected"
                yield detected
                choices = ProjectChoices(id="project-choices", classes="pane")
                choices.border_title = "Cache & builder"
                yield choices
        yield Footer()

    def _current_project(self) -> Path | None:
        state = self.app_state()
        project = getattr(state, "project", None)
        return Path(project) if project else None

    def _tree_root(self) -> Path:
        project = self._current_project()
        if project is not None and project.parent.is_dir():
            return project.parent
        return Path.home()

    def on_mount(self) -> None:
        project = self._current_project()
        if project is not None:
            self.query_one("#project-path", Input).value = tilde(project) + "/"
            self.scan(project, open_it=False)
        self._refresh_recent()

    def state_changed(self, fields: set[str]) -> None:
        if "project" in fields:
            project = self._current_project()
            if project is not None and project != self.shown_path:
                self.scan(project, open_it=False)
        if fields & {"project", "cache_ref", "builder"}:
            self._refresh_recent()

    # -- recent projects ----------------------------------------------------------------------
    def _refresh_recent(self) -> None:
        state = self.app_state()
        settings = self.settings()
        recent: list[tuple[str, str]] = []
        if settings is not None:
            for p in settings.recent_projects:
                recent.append((p, str(settings.project_settings(p).get("cache_ref") or "")))
        current = self._current_project()
        if current is not None and all(p != str(current) for p, _ in recent):
            recent.insert(0, (str(current), str(getattr(state, "cache_ref", "") or "")))
        self.query_one(RecentProjects).show(recent, str(current) if current else None)

    @on(OptionList.OptionSelected, "#project-recent")
    def _recent_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.open_path(Path(event.option.id))

    # -- choosing a directory -----------------------------------------------------------------
    @on(DirectoryTree.DirectorySelected, "#project-tree")
    def _tree_selected(self, event: DirectoryTree.DirectorySelected) -> None:
        event.stop()
        self.query_one("#project-path", Input).value = tilde(event.path) + "/"
        self.open_path(event.path)

    @on(Input.Submitted, "#project-path")
    def _path_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value.strip():  # not "." (wherever railpack-tui was started): nothing was typed
            self.notify("Type a project directory first (→ completes a name).", title="No directory", severity="warning")
            return
        self.open_path(expand(event.value))

    def open_path(self, path: Path) -> None:
        path = path.expanduser()
        if not path.is_dir():
            self.notify(f"{tilde(path)} is not a directory.", title="Cannot open", severity="warning")
            return
        self.scan(path.resolve(), open_it=True)

    @work(thread=True, exclusive=True, group="project-scan", exit_on_error=False)
    def scan(self, path: Path, open_it: bool = True) -> None:
        """Read the project's files off the UI thread and post what was found."""
        try:
            detection = detect_project(path)
        except RailpackTuiError as exc:
            self.post_message(ProjectScanned(path, error=str(exc), open_it=open_it))
            return
        except OSError as exc:
            self.post_message(ProjectScanned(path, error=f"cannot read {path}: {exc.strerror or exc}", open_it=open_it))
            return
        self.post_message(ProjectScanned(path, detection=detection, open_it=open_it))

    def on_project_scanned(self, message: ProjectScanned) -> None:
        self.shown_path = message.path
        self.detection = message.detection
        view = self.query_one(DetectionView)
        view.show(message.path, message.detection, message.error)
        self.query_one("#project-heading", Static).update(view.heading(message.path, message.detection, message.error))
        buildable = message.detection is not None and view.buildable(message.detection)
        if message.open_it and buildable:
            self._make_current(message.path)
            path_box = self.query_one("#project-path", Input)
            if self.focused is path_box:  # the next keys (1-4, b) are for the app, not the box
                view.focus()
        elif message.open_it and message.error is None:
            self.notify(f"{tilde(message.path)} holds no Dockerfile and no app Railpack recognises.",
                        title="Nothing to build here", severity="warning")
        self._load_choices(message.path)

    def _make_current(self, path: Path) -> None:
        state = self.app_state()
        if state is None or not hasattr(self.app, "update_state"):
            return
        if getattr(state, "project", None) == path:
            return
        remembered = state.settings.project_settings(path) if getattr(state, "settings", None) else {}
        cache_ref = self._kept_cache_ref(remembered, path)
        kept = remembered.get("builder")
        # as at start: not a gone socket nor another sandbox's (every setting change remembers one)
        builder = kept if isinstance(kept, str) and kept and kept_builder_applies(kept) else getattr(state, "builder", None)
        # the engine goes with the project: a Railpack app opened after a Dockerfile project (or the
        # other way round) kept the previous project's engine, and its build failed
        # so do its build args: another project's would bust (or break) this one's cache
        self.app.update_state(project=path, cache_ref=cache_ref or None, builder=builder or None,
                              engine=engine_for(path, remembered, kind_of(self.detection) if self.detection else None),
                              build_args=remembered_build_args(remembered))
        self.notify(f"{path.name}: cache ref {cache_ref or '(none)'}", title="Project opened")

    def _kept_cache_ref(self, remembered: dict, path: Path) -> str | None:
        """The cache ref kept for a project; one cleared there ("") stays none, and one never
        chosen is the default (the sandbox's)."""
        ref = remembered.get("cache_ref")
        return None if ref == "" else ref or self._default_cache_ref(path)

    def _default_cache_ref(self, path: Path) -> str | None:
        sandbox = getattr(self.app_state(), "sandbox", None)
        if sandbox is None or not getattr(sandbox, "registry", ""):
            return None
        from railpack_tui.core.defaults import sandbox_cache_ref

        return sandbox_cache_ref(sandbox, path)

    def _load_choices(self, path: Path) -> None:
        state = self.app_state()
        choices = self.query_one(ProjectChoices)
        if state is not None and getattr(state, "project", None) == path:
            choices.load(state.cache_ref, state.builder)
        else:
            remembered = state.settings.project_settings(path) if getattr(state, "settings", None) else {}
            choices.load(self._kept_cache_ref(remembered, path), remembered.get("builder"))

    @on(ProjectChoices.Chosen)
    def _choices_kept(self, event: ProjectChoices.Chosen) -> None:
        if self.shown_path is None or not hasattr(self.app, "update_state"):
            return
        if self._current_project() != self.shown_path:
            if self.detection is None or not self.query_one(DetectionView).buildable(self.detection):
                # the directory shown was refused: it must not replace the project that builds
                text = (f"{tilde(self.shown_path)} has nothing to build, so it cannot be the project: "
                        "open a directory with a Dockerfile or a Railpack app first.")
                self.query_one(ProjectChoices)._say(text)
                self.notify(text, title="Not kept", severity="warning")
                return
            self._make_current(self.shown_path)
        self.app.update_state(cache_ref=event.cache_ref or None, builder=event.builder or None)

    def screen_commands(self):
        """What the command palette offers on this screen."""
        yield SystemCommand("Projects: type a path", "Open a project directory by path, with completion (key /)",
                            self.action_focus_path)
        yield SystemCommand("Projects: open the highlighted directory", "Detect and open it (key o)",
                            self.action_open_highlighted)
        yield SystemCommand("Projects: edit cache ref and builder", "Choose them for this project (key e)",
                            self.action_edit_choices)
        yield SystemCommand("Projects: rescan", "Detect the project's Dockerfile or Railpack app again (ctrl+r)",
                            self.action_rescan)

    # -- actions --------------------------------------------------------------------------------
    def action_focus_path(self) -> None:
        self.query_one("#project-path", Input).focus()

    def action_edit_choices(self) -> None:
        self.query_one("#choice-cache-ref", Input).focus()

    def action_rescan(self) -> None:
        if self.shown_path is not None:
            self.scan(self.shown_path, open_it=False)

    def action_open_highlighted(self) -> None:
        tree = self.query_one(ProjectTree)
        node = tree.cursor_node
        if node is not None and node.data is not None:
            self.query_one("#project-path", Input).value = tilde(node.data.path) + "/"
            self.open_path(Path(node.data.path))

    def action_prepare_plan(self) -> None:
        if self.shown_path is None or kind_of(self.detection) != "railpack":
            self.notify("`railpack prepare` is for Railpack apps; this project has a Dockerfile.", timeout=4)
            return
        self.notify("Running `railpack prepare`…", timeout=3)
        self.prepare_worker(self.shown_path)

    @work(thread=True, exclusive=True, group="project-plan", exit_on_error=False)
    def prepare_worker(self, path: Path) -> None:
        from ..widgets.projects_detection import prepare_plan

        try:
            self.post_message(PlanPrepared(path, plan=prepare_plan(path)))
        except RailpackTuiError as exc:
            self.post_message(PlanPrepared(path, error=exc))

    def on_plan_prepared(self, message: PlanPrepared) -> None:
        if message.error is not None:
            report = getattr(self.app, "report_error", None)
            if report is not None:
                report(message.error, "railpack prepare")
            return
        if message.path == self.shown_path and message.plan is not None:
            self.query_one(DetectionView).show_plan(message.plan, source="railpack prepare")

    def action_back(self) -> None:
        if self.focused is not None and self.focused.id != "project-tree":
            self.query_one(ProjectTree).focus()
