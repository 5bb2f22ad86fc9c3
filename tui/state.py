"""What every screen of the dashboard shares: the project, its cache ref and builder, the engine
and build options, the current or last build, and the settings remembered between runs.

One `AppState` lives on the app (`self.app.state`). Screens read it freely and change it through
`self.app.update_state(field=value, ...)`, which publishes the names of the changed fields on
`self.app.state_changed` (a Textual Signal) so every screen can refresh what depends on them:

    self.app.state_changed.subscribe(self, self._on_state_changed)   # callback(fields: set[str])

Settings (theme, recent projects, each project's cache ref, builder, engine, cache mode and build
args, and any key another screen wants kept) are stored as JSON in
`paths.config_dir()/settings.json`, written atomically, never holding a secret.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from railpack_tui.core import paths

SETTINGS_FILE = "settings.json"
DEFAULT_THEME = "railpack-dark"
MAX_RECENT = 12
ENGINES = ("buildkit", "buildx", "railpack")
CACHE_MODES = ("max", "min")


def engine_for(project: Path | str | None, remembered: dict[str, Any] | None = None, kind: str | None = None) -> str:
    """The engine a project builds with: railpack for a Railpack app (no Dockerfile, a file
    railpack recognises: buildkit and buildx need a Dockerfile, whatever was remembered), else the
    engine remembered for the project, else buildkit. `kind` ("dockerfile" | "railpack"), when
    the project was already detected, saves the few stat calls that find it out."""
    chosen = remembered.get("engine") if remembered and remembered.get("engine") in ENGINES else None
    if kind is None and project is not None:
        from railpack_tui.core.project import DOCKERFILE_NAMES, RAILPACK_MARKERS

        p = Path(project)
        if not any((p / name).is_file() for name in DOCKERFILE_NAMES) and any((p / m).exists() for m in RAILPACK_MARKERS):
            kind = "railpack"
    return "railpack" if kind == "railpack" else chosen or "buildkit"


class Settings:
    """A small JSON document of remembered choices. Unknown keys are kept as they are."""

    def __init__(self, path: Path | None = None, data: dict[str, Any] | None = None) -> None:
        self.path = path if path is not None else paths.config_dir() / SETTINGS_FILE
        self.data: dict[str, Any] = dict(data or {})
        self.notice: str | None = None  # why the file was not used, for the dashboard to say once

    @classmethod
    def load(cls, path: Path | None = None) -> "Settings":
        """Read the settings; a missing or unreadable file gives the defaults (never an error). A
        file that is not a JSON object is set aside (`settings.json.broken-<UTC time>`) with a
        notice: before, the first change silently wrote the defaults over it."""
        settings = cls(path)
        p = settings.path
        try:
            raw = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return settings
        except OSError as exc:
            settings.notice = (f"The settings file {p} cannot be read ({exc.strerror or exc}): the defaults are used. "
                               f"Fix: make it a readable file, or remove it")
            return settings
        except ValueError as exc:
            raw = exc
        if isinstance(raw, dict):
            settings.data = raw
            return settings
        reason = "not JSON" if isinstance(raw, ValueError) else "not a JSON object"
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = p.with_name(f"{p.name}.broken-{stamp}")
        try:
            os.replace(p, target)
            kept = f"it was set aside as {target.name}"
        except OSError:
            kept = "it is left as it is"
        settings.notice = (f"The settings file {p} is {reason}; {kept} and the defaults are used. "
                           f"Fix: nothing to do (choices are remembered again from now on), or repair it and put it back")
        return settings

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Remember `key` and write the file now. A failed write is not fatal: returns quietly."""
        if self.data.get(key) == value:
            return
        self.data[key] = value
        self.save()

    def save(self) -> bool:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".settings-", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.data, fh, indent=2, sort_keys=True)
            os.replace(tmp, self.path)
            return True
        except OSError:
            return False

    @property
    def theme(self) -> str:
        value = self.data.get("theme")
        return value if isinstance(value, str) and value else DEFAULT_THEME

    @theme.setter
    def theme(self, name: str) -> None:
        self.set("theme", name)

    @property
    def recent_projects(self) -> list[str]:
        value = self.data.get("recent_projects")
        return [p for p in value if isinstance(p, str)] if isinstance(value, list) else []

    def add_recent_project(self, project: Path | str) -> None:
        p = str(project)
        recent = [p] + [r for r in self.recent_projects if r != p]
        self.set("recent_projects", recent[:MAX_RECENT])

    def project_settings(self, project: Path | str) -> dict[str, Any]:
        """What was chosen for one project (cache ref, builder, engine...), or {}."""
        value = self.data.get("projects", {})
        entry = value.get(str(project)) if isinstance(value, dict) else None
        return dict(entry) if isinstance(entry, dict) else {}

    def remember_project_settings(self, project: Path | str, **values: Any) -> None:
        projects = dict(self.data.get("projects") or {})
        entry = dict(projects.get(str(project)) or {})
        # cache_ref None (none chosen now) keeps what is kept: "" means cleared by the user (no
        # registry cache, see AppState.apply) and stays so; null/absent means never chosen
        entry.update({k: v for k, v in values.items() if not (k == "cache_ref" and v is None and k in entry)})
        projects[str(project)] = entry
        self.set("projects", projects)


@dataclass
class BuildJob:
    """One build started from the dashboard: its request, the core runner driving it (which owns
    the live BuildModel), the phase it is in, and how it ended."""

    request: Any  # core.runner.BuildRequest
    handle: Any = None  # core.runner.BuildRun (None for a replayed/recorded build)
    model_override: Any = None  # a BuildModel given directly (replays, tests)
    command_line: str = ""
    started_at: float = 0.0
    finished_at: float | None = None
    outcome: str = "running"  # running | success | failed | cancelled | incomplete | error
    phase: str = ""  # what railpack-tui is doing before BuildKit reports (checking builder...)
    error: Any = None  # a core.errors exception that stopped the build before BuildKit ran it
    result: Any = None  # core.runner.BuildResult
    output: list[str] = field(default_factory=list)  # non-progress lines from the engine (last ones)
    cancel_requested: bool = False
    snapshot: Any = None  # the last buildview.Snapshot the worker took of the model
    event_seq: int = 0  # progress reports from the runner (worker thread)
    snap_seq: int = 0  # the report the last snapshot covers
    last_event: float = 0.0  # time.monotonic() of the last report
    last_snapshot: float = 0.0

    @property
    def running(self) -> bool:
        return self.outcome == "running"

    @property
    def model(self) -> Any:
        if self.model_override is not None:
            return self.model_override
        return getattr(self.handle, "model", None) if self.handle is not None else None

    @property
    def run_id(self) -> str | None:
        return getattr(self.result, "run_id", None)


def _earlier_sandbox_default(ref: str, setup: Any) -> bool:
    """True for a sandbox's default cache ref (`LOOPBACK:PORT/railpack-tui/NAME:cache`, remembered
    with every project setting) of a sandbox that is not the running one (another port): the
    running sandbox's own default replaces it. An unreadable remembered ref also gives way."""
    from railpack_tui.core import refs
    from railpack_tui.core.errors import BadInput

    try:
        r = refs.parse_cache_ref(ref)
    except BadInput:
        return True
    current = getattr(setup.sandbox, "registry", None)
    return r.is_loopback and r.registry != current and r.repository.startswith("railpack-tui/")


def remembered_build_args(remembered: dict[str, Any]) -> dict[str, str]:
    """The build args kept for a project (`build_args` in its settings): {} when none were kept,
    or when what was kept is not a {name: value} of names a build takes (a settings file from
    before build args were kept, or edited by hand): the dashboard still starts."""
    value = remembered.get("build_args")
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return {}
    from railpack_tui.core.errors import BadInput
    from railpack_tui.core.runner import check_build_arg_names

    try:
        check_build_arg_names(value)
    except BadInput:
        return {}
    return dict(value)


def kept_builder_applies(builder: str) -> bool:
    """A builder remembered for a project is used at start unless BUILDKIT_HOST names one for
    this run, or it is a unix socket that no longer exists or a railpack-tui sandbox's (every
    setting change remembers the builder too: the sandbox this run uses is the one to build on)."""
    if os.environ.get("BUILDKIT_HOST"):
        return False
    if not builder.startswith("unix://"):
        return True
    sock = Path(builder[len("unix://"):])
    return sock.exists() and not (sock.parent / "sandbox.json").exists()


@dataclass
class AppState:
    """The dashboard's shared state. Change it with `app.update_state(...)` so screens hear of it."""

    project: Path | None = None
    builder: str | None = None
    cache_ref: str | None = None
    engine: str = "buildkit"
    cache_mode: str = "max"
    no_import: bool = False
    no_export: bool = False
    ignore_export_error: bool = False  # a failed cache export does not fail the build
    build_args: dict[str, str] = field(default_factory=dict)
    sandbox: Any = None  # core.sandbox.SandboxInfo | None
    notices: list[str] = field(default_factory=list)
    settings: Settings = field(default_factory=Settings)
    current: BuildJob | None = None  # the running build, or the last one
    runs: list[BuildJob] = field(default_factory=list)  # this session's builds, oldest first

    FIELDS = ("project", "builder", "cache_ref", "engine", "cache_mode", "no_import", "no_export", "ignore_export_error",
              "build_args")

    @classmethod
    def from_setup(cls, setup: Any, settings: Settings | None = None) -> "AppState":
        settings = settings if settings is not None else Settings.load()
        state = cls(project=setup.project, builder=setup.builder, cache_ref=setup.cache_ref,
                    sandbox=setup.sandbox, notices=list(setup.notices) + ([settings.notice] if settings.notice else []),
                    settings=settings)
        remembered = settings.project_settings(setup.project) if setup.project else {}
        state.engine = engine_for(setup.project, remembered)
        if remembered.get("cache_mode") in CACHE_MODES:
            state.cache_mode = remembered["cache_mode"]
        state.build_args = remembered_build_args(remembered)
        ref = remembered.get("cache_ref")
        if isinstance(ref, str) and ref and not (setup.cache_ref and _earlier_sandbox_default(ref, setup)):
            state.cache_ref = ref  # chosen for this project: it wins over the sandbox's default ref
        elif ref == "":  # cleared for this project (no registry cache): not the default ref again
            state.cache_ref = None
        builder = remembered.get("builder")
        if isinstance(builder, str) and builder and kept_builder_applies(builder):
            state.builder = builder  # kept for this project on Projects, as opening it there does
        if setup.project:  # so that Recent leads back to it after another project is opened
            settings.add_recent_project(setup.project)
        return state

    @property
    def building(self) -> bool:
        return self.current is not None and self.current.running

    @property
    def model(self) -> Any:
        """The BuildModel of the running or last build, or None."""
        return self.current.model if self.current is not None else None

    def apply(self, **changes: Any) -> set[str]:
        """Set fields; return the names of the ones whose value changed."""
        changed: set[str] = set()
        for name, value in changes.items():
            if not hasattr(self, name) or name in ("settings",):
                raise AttributeError(f"AppState has no settable field {name!r}")
            if name == "project" and value is not None:
                value = Path(value)
            if getattr(self, name) != value:
                setattr(self, name, value)
                changed.add(name)
        if self.project is not None and changed & {"cache_ref", "builder", "engine", "cache_mode", "build_args"}:
            self.settings.remember_project_settings(self.project, cache_ref=self.cache_ref, builder=self.builder,
                                                    engine=self.engine, cache_mode=self.cache_mode,
                                                    build_args=dict(self.build_args))
        if self.project is not None and "cache_ref" in changed and "project" not in changed and not self.cache_ref:
            self.settings.remember_project_settings(self.project, cache_ref="")  # cleared, not "never chosen"
        if "project" in changed and self.project is not None:
            self.settings.add_recent_project(self.project)
        return changed
