"""Running one build, for the command line and the dashboard alike.

    request = BuildRequest(path="examples/app", cache_ref="registry:5000/app:cache", engine="buildkit")
    run = BuildRun(request, on_event=callback)   # callback(RunEvent) is called from the worker thread
    run.start()                                  # a worker thread; or run.run() to block the caller
    run.cancel()                                 # from any thread: the build stops within seconds
    result = run.wait()                          # BuildResult: model, run_id, report(), ...

Order of work, with only what the engine's command needs before it starts: resolve the builder
-> credentials for every registry the build touches, written to a temporary Docker config -> the
engine's process. The builder probe (`builders.check`: a dead builder fails within seconds, never
a hang) is only needed when the engine shows no progress: its first progress line proves BuildKit
answers. Until then its output is held back; after PROBE_AFTER_S without progress, or when it
ends without any, the probe runs, and if it fails it stops the engine and its error is the run's
with nothing of the engine shown (exit 3, as when it ran first). Engines with a preparation step
(buildx, railpack) are probed before preparing. While BuildKit builds, a second thread takes the
project snapshot (the context as the build starts), opens the history and reads the project's
earlier runs; once every step has settled and the export has begun, a third reads the builder's
cache debug database for the explanations (`_Prepared.read_debug_ahead`) while BuildKit exports.
Then every output line into the BuildModel -> finish the model -> miss explanations and the
history record. The temporary Docker config is removed in `finally` (also
on cancel); `install_signal_handlers()` extends that to SIGTERM/SIGHUP and stops the engine's
process group too.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import builders, dockerconfig, masking
from .errors import BadInput, RailpackTuiError

ENGINES = ("buildkit", "buildx", "railpack")
MODES = ("max", "min")


@dataclass
class BuildRequest:
    path: str
    cache_ref: str | None = None
    engine: str = "buildkit"
    builder: str | None = None
    mode: str = "max"
    no_import: bool = False
    no_export: bool = False
    no_cache: bool = False
    ignore_export_error: bool = False
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    output: str | None = None  # None/"none", a local directory, or "push=IMAGE"
    progress_file: str | None = None
    dockerfile: str | None = None  # relative to path; default "Dockerfile"
    tls_dir: str | None = None  # client certs for a tcp:// builder (ca.pem, cert.pem, key.pem)
    railpack_frontend: str | None = None  # the railpack gateway frontend image (railpack engine)
    # the login to use for the cache ref's registry (the dashboard's saved ref names one); None: the
    # registry's newest saved login (credentials.for_registry)
    cache_username: str | None = None

    # -- checks and derived values -------------------------------------------------------
    def validate(self) -> "BuildRequest":
        p = Path(self.path).expanduser()
        if p.is_file():
            raise BadInput(f"{self.path!r} is a file, not a project directory.",
                           fix=f"pass the directory that holds it: railpack-tui build {p.parent}")
        if not p.is_dir():
            raise BadInput(f"project directory {self.path!r} does not exist.", fix="pass a directory that holds a Dockerfile (or a Railpack app)")
        if self.engine not in ENGINES:
            raise BadInput(f"unknown engine {self.engine!r}.", fix=f"use one of {', '.join(ENGINES)}")
        if self.mode not in MODES:
            raise BadInput(f"unknown cache mode {self.mode!r}.", fix="use max (every step) or min (final result only)")
        if self.cache_ref:
            from . import refs

            refs.parse_cache_ref(self.cache_ref)
        check_build_arg_names(self.build_args)
        if self.engine != "railpack" and not self.dockerfile_path().is_file():
            raise BadInput(f"no {self.dockerfile_path().name} in {self.path!r}.",
                           fix="add a Dockerfile, or use --engine railpack for a Railpack app")
        if self.output and self.output.startswith("push="):
            from . import refs

            refs.parse(self.output[len("push="):])
        if self.progress_file:
            _check_writable_file(self.progress_file, "--progress-file")
        return self

    def project_dir(self) -> Path:
        return Path(self.path).expanduser().resolve()

    def dockerfile_path(self) -> Path:
        return self.project_dir() / (self.dockerfile or "Dockerfile")

    def import_refs(self) -> list[str]:
        return [self.cache_ref] if self.cache_ref and not self.no_import else []

    def export_refs(self) -> list[str]:
        return [self.cache_ref] if self.cache_ref and not self.no_export else []

    def registries(self) -> list[str]:
        """Registries (host[:port]) this build reads or writes."""
        from . import refs

        hosts: list[str] = []
        texts = list(self.import_refs()) + list(self.export_refs())
        if self.output and self.output.startswith("push="):
            texts.append(self.output[len("push="):])
        if self.railpack_frontend:
            texts.append(self.railpack_frontend)
        for t in texts:
            h = refs.parse(t).registry
            if h not in hosts:
                hosts.append(h)
        return hosts

    def tls(self) -> builders.TLS | None:
        return builders.TLS.from_dir(self.tls_dir) if self.tls_dir else None

    def to_info(self, builder: str | None = None) -> dict:
        """What history and explanations need to know about the request; `builder`: the one the
        build actually used (the request's may be None: BUILDKIT_HOST or the sandbox)."""
        return {"engine": self.engine, "builder": builder or self.builder, "cache_ref": self.cache_ref, "mode": self.mode,
                "no_import": self.no_import, "no_export": self.no_export, "no_cache": self.no_cache,
                "ignore_export_error": self.ignore_export_error, "build_args": dict(self.build_args),
                "target": self.target, "project": str(self.project_dir())}

    def command_line(self, builder: builders.Builder | None = None) -> str:
        """The equivalent shell command for CI; DOCKER_CONFIG is a placeholder, never a secret."""
        if builder is None:
            try:
                builder = builders.resolve(self.builder, tls=self.tls())
            except RailpackTuiError:
                builder = builders.Builder(addr="${BUILDKIT_HOST}", source="placeholder")
        return make_engine(self.engine, builder).command_line(self)


def check_build_arg_names(names) -> None:
    """Refuse a build-arg name BuildKit cannot take (empty, holding `=` or whitespace); the
    dashboard's build-args editor checks each line with this too."""
    for k in names:
        if not k or "=" in k or any(ch.isspace() for ch in k):
            raise BadInput(f"bad build-arg name {k!r}.", fix="pass --build-arg NAME=VALUE")


def _check_writable_file(path: str, flag: str) -> None:
    """Refuse, before anything starts, a file the build could not create at its end."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise BadInput(f"{flag} {path!r} is a directory.", fix=f"name a file inside it, e.g. {flag} {p / 'progress.jsonl'}")
    parent = p.parent
    if not parent.is_dir():
        raise BadInput(f"{flag} {path!r}: the directory {str(parent)!r} does not exist.",
                       fix=f"create it first (mkdir -p {parent}) or name a file in an existing directory")
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise BadInput(f"{flag} {path!r} cannot be written.", fix="name a file in a directory you can write to")


def make_engine(name: str, builder: builders.Builder):
    if name == "buildkit":
        from .engines.buildkit import BuildKitEngine

        return BuildKitEngine(builder)
    if name == "buildx":
        from .engines.buildx import BuildxEngine

        return BuildxEngine(builder)
    if name == "railpack":
        from .engines.railpack import RailpackEngine

        return RailpackEngine(builder)
    raise BadInput(f"unknown engine {name!r}.", fix=f"use one of {', '.join(ENGINES)}")


@dataclass
class RunEvent:
    """Posted to `on_event` from the worker thread.
    kind: "phase" (message: what railpack-tui is doing), "progress" (changes: model.drain_changes()),
    "output" (message: a non-JSON line from the engine), "finished" (result)."""

    kind: str
    message: str = ""
    changes: Any = None
    result: "BuildResult | None" = None


@dataclass
class BuildResult:
    request: BuildRequest
    model: Any
    engine: str
    builder: str
    run_id: int | str  # the history id; a random string when the build was not recorded
    started_at: float
    duration_s: float
    returncode: int | None
    cancelled: bool
    command_line: str
    output_tail: list[str] = field(default_factory=list)
    error: RailpackTuiError | None = None
    notes: list[str] = field(default_factory=list)
    plan_steps: dict[str, str] = field(default_factory=dict)  # railpack: vertex name -> plan step
    plan: dict | None = None  # railpack: the build plan that was built

    @property
    def status(self) -> str:
        if self.model is not None:
            return self.model.status
        return "cancelled" if self.cancelled else "failed"

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == "success"

    def report(self) -> dict:
        """The contract's `build --json` object (model report + run metadata)."""
        data = self.model.to_report() if self.model is not None else {"status": self.status}
        data.update({"run_id": self.run_id, "engine": self.engine, "builder": self.builder,
                     "cache_ref": self.request.cache_ref, "duration_s": round(self.duration_s, 3),
                     "command_line": self.command_line})
        if self.notes:
            data["notes"] = list(self.notes)
        if self.plan_steps:
            data["plan_steps"] = dict(self.plan_steps)
        if self.plan is not None:
            data["railpack_plan"] = self.plan
        if self.error is not None:
            data["error"] = self.error.to_json()
        return data


class _Cancelled(Exception):
    pass


def _refuse_secret_build_args(req: BuildRequest, masker: masking.Masker | None) -> None:
    """A registry password given as a build arg would reach buildctl's arguments, the image's
    metadata and the history database: the build is refused before any of that happens."""
    leaked = sorted(k for k, v in req.build_args.items() if masker is not None and masker.holds_secret(v))
    if leaked:
        raise BadInput(f"build arg {', '.join(leaked)} holds the password of a registry this build logs in to.",
                       fix="pass secrets to a build as BuildKit secrets (RUN --mount=type=secret), never as build "
                           "args: BuildKit keeps build args in the image's metadata")


def _registry_of(ref: str) -> str:
    from . import refs

    return refs.parse_cache_ref(ref).registry


def _credential_for(host: str, username: str | None = None):
    from . import credentials

    for_registry = getattr(credentials, "for_registry", None)
    if for_registry is not None:
        return for_registry(host, username)
    from . import sandbox

    cred = sandbox.sandbox_credential()
    return cred if cred is not None and cred.host == host else None


def _after_build(request: BuildRequest, model, snapshot, notes: list[str], prepared: "_Prepared | None" = None,
                 builder: str | None = None) -> int | None:
    """Explain the build's misses (against the earlier runs in the history), then record it with its
    explanations in one transaction. Neither may fail a build: a problem becomes a note (and a crash
    log entry); a failed explanation never costs the record."""
    from . import explain, history

    info = request.to_info(builder)
    run_id = None
    try:
        db = history.default()
        if snapshot is not None:
            extra = {"debug_addr": prepared.debug_addr} if prepared is not None and prepared.debug_addr is not False else {}
            try:
                explain.annotate(model, snapshot, db, {**info, **extra},
                                 earlier=prepared.earlier if prepared is not None else None,
                                 debug_records=prepared.debug_records_for(model) if prepared is not None else None)
            except Exception as exc:  # noqa: BLE001 - the build is still recorded
                from .crashlog import record as crash

                notes.append(f"explanations unavailable for this build ({type(exc).__name__}: {exc}); details in {crash(exc)}")
        run_id = history.record(info, model, snapshot)
        notes.extend(db.notices[-1:] if run_id is None else [])
    except Exception as exc:  # noqa: BLE001 - reported, never raised into a finished build
        from .crashlog import record as crash

        notes.append(f"history/explanations unavailable for this build ({type(exc).__name__}: {exc}); details in {crash(exc)}")
    return run_id


def _snapshot(request: BuildRequest, notes: list[str]):
    from . import project

    try:
        return project.snapshot(project.detect(str(request.project_dir())), dict(request.build_args))
    except RailpackTuiError as exc:
        notes.append(f"no project snapshot, so no miss explanations: {exc}")
        return None


_SETTLED = ("cached", "executed", "error", "cancelled")
_CACHE_CHANGED = "cache"  # model.CHANGE_CACHE (the model is imported once the build runs)


def _settled_steps(model) -> tuple | None:
    """(id, state) of every step once the solve is over: an export (of the cache or the image)
    has begun and every step has settled. None before."""
    vertexes = model.vertexes
    if not any(v.kind in ("cache-export", "export") and v.started is not None for v in vertexes):
        return None
    steps = [v for v in vertexes if v.kind == "step"]
    if not steps or any(st.state not in _SETTLED for st in steps):
        return None
    return tuple((st.id, st.state) for st in steps)


def _writes_into_context(request: BuildRequest) -> bool:
    """Does the build write files into its own context (a local --output inside the project)?
    Then the snapshot is taken before the build starts, not while it runs."""
    out = request.output
    if not out or out == "none" or out.startswith("push="):
        return False
    dest = Path(out).expanduser().resolve()
    project = request.project_dir()
    return dest == project or project in dest.parents


def _has_preparation(engine) -> bool:
    from .engines.base import Engine

    return type(engine).prepare is not Engine.prepare


# How long a build may show no progress before the builder is probed (`builders.check`). The
# engine's first progress line proves BuildKit answers, so a build underway never pays for a probe;
# one that shows nothing (packets to a dead address vanish) is probed, and stopped if that fails.
PROBE_AFTER_S = 1.0


class _Probe:
    """`builders.check` in a thread: at once (`delay` 0: engines that prepare wait for it), or only
    when the engine has shown no progress for `delay` seconds, ended without any, or an error needs
    it. `proven()` (a progress line arrived) means a probe not yet started never runs and a failed
    one changes nothing. A failure while unproven calls `on_fail` (stops the engine)."""

    def __init__(self, builder: builders.Builder, delay: float = 0.0):
        self.error: BaseException | None = None
        self.consumed = False
        self.on_fail: Callable[[], None] | None = None
        self._proven = False
        self._stopped = False
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._done = threading.Event()
        threading.Thread(target=self._run, args=(builder, delay), name="railpack-tui-probe", daemon=True).start()

    def _run(self, builder: builders.Builder, delay: float) -> None:
        try:
            if delay > 0:
                self._wake.wait(delay)
            with self._lock:
                if self._proven:
                    return
            builders.check(builder)
        except BaseException as exc:  # noqa: BLE001 - raised in the build thread by result()
            with self._lock:
                self.error = exc
                stop = None if self._proven else self.on_fail
                self._stopped = stop is not None
            if stop is not None:
                stop()
        finally:
            self._done.set()

    def stop_with(self, stop: Callable[[], None]) -> None:
        """Call `stop` if the probe fails before progress proves the builder (at once if it already has)."""
        with self._lock:
            self.on_fail = stop
            now = self._stopped = self.error is not None and not self._proven
        if now:
            stop()

    def proven(self) -> bool:
        """Progress arrived: BuildKit answers. False when the probe failed first and stopped the engine."""
        with self._lock:
            if self._stopped:
                return False
            self._proven = True
        self._wake.set()
        return True

    def result(self) -> None:
        """Probe now unless it ran or is running, wait for it (bounded by its own timeout), and raise
        its error if the builder failed it (and no progress proved it answers)."""
        self._wake.set()
        self._done.wait()
        self.consumed = True
        if self.error is not None and not self._proven:
            raise self.error

    def finish(self) -> None:
        """Never leave a probe behind: one not started is called off, a running one waited for."""
        with self._lock:
            if not self._wake.is_set():
                self._proven = True  # called off: a probe not yet started never runs
        self._wake.set()
        self._done.wait()


class _Prepared:
    """What the build's result needs but its start does not, done in a thread while BuildKit
    builds: the project snapshot (unless taken before the start), the history database with the
    project's earlier runs, the builder's cache-debug address, and the modules that use them."""

    def __init__(self, request: BuildRequest, snapshot_now: bool, taken: threading.Event, builder: str | None = None):
        self.request = request
        self.builder = builder
        self.notes: list[str] = []
        self.taken = taken
        self.snapshot = _snapshot(request, self.notes) if snapshot_now else None
        self._snapshot_taken = snapshot_now
        if snapshot_now:
            taken.set()
        self.earlier = None
        self.debug_addr: str | None | bool = False  # False: not looked up
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        # the cache debug database read while BuildKit exports the cache (read_debug_ahead)
        self._debug_thread: threading.Thread | None = None
        self._debug_steps: tuple | None = None
        self._debug_records: tuple[list[dict], list[dict]] | None = None  # (records, exec records)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="railpack-tui-prepare", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        if not self._snapshot_taken:
            try:
                self.snapshot = _snapshot(self.request, self.notes)
            except Exception as exc:  # noqa: BLE001 - a bug here costs the explanations, not the build
                from .crashlog import record as crash

                self.notes.append(f"no project snapshot, so no miss explanations ({type(exc).__name__}: {exc}); "
                                  f"details in {crash(exc)}")
            self.taken.set()
        if self.snapshot is None:
            return
        try:  # only a head start: _after_build does whatever is missing here
            from . import cachedebug, explain, history

            info = self.request.to_info(self.builder)
            self.earlier = explain.Earlier(history.default(), history._norm(info["project"]))
            self.debug_addr = cachedebug.debug_addr(info)
            if self.debug_addr:
                cachedebug.warm(self.debug_addr)  # the fetch after the build is on its critical path
        except Exception:  # noqa: BLE001
            pass
        finally:
            self._done.set()

    def read_debug_ahead(self, model) -> None:
        """Called from the build thread when the model's cache import/export changed. Once the
        solve is over (every step settled, the export begun: BuildKit computed every cache key of
        the build before running its step, so the debug database holds them), read the builder's
        cache debug database in a thread, while BuildKit exports the cache (in a burst build that
        export is half the build), instead of after the build. Only when the explanations will ask
        for it: a step executed, earlier runs to compare with, a cache-debug address, no --no-cache.
        `debug_records_for` hands it over only if no step changed since."""
        if self._debug_thread is not None or not self._done.is_set() or not self.debug_addr \
                or self.earlier is None or not self.earlier.runs or self.request.no_cache:
            return
        states = _settled_steps(model)
        if states is None or not any(state in ("executed", "error") for _, state in states):
            return
        addr = self.debug_addr

        def read() -> None:
            from . import cachedebug

            try:
                records = cachedebug.fetch_all(addr)
                self._debug_records = (records, cachedebug.exec_records(records))
            except Exception:  # noqa: BLE001 - read again after the build, where a failure is explained
                self._debug_records = None

        self._debug_steps = states
        self._debug_thread = threading.Thread(target=read, name="railpack-tui-cachedebug", daemon=True)
        self._debug_thread.start()

    def debug_records_for(self, model) -> tuple[list[dict], list[dict]] | None:
        """(records, exec records) of the cache debug database read ahead, if it was and the
        finished model's steps are the ones (and in the states) they were when it was read; else
        None (`cachedebug.confirm` reads it then)."""
        if self._debug_thread is None:
            return None
        self._debug_thread.join()
        if tuple((s.id, s.state) for s in model.steps) != self._debug_steps:
            return None
        return self._debug_records

    def join(self):
        """The snapshot (None without one), once the thread is done."""
        if self._thread is not None:
            self._thread.join()
        return self.snapshot


class BuildRun:
    """One build. Thread-safe `cancel()`; `on_event` is called from the thread running the build."""

    def __init__(self, request: BuildRequest, on_event: Callable[[RunEvent], None] | None = None, *,
                 model_after_start: bool = False):
        self.request = request
        self.on_event = on_event or (lambda e: None)
        self.model = None
        # `railpack-tui build` has the BuildModel made once the engine runs (its module loads, ~4 ms,
        # while buildctl starts, not before); the dashboard reads it from the first phase on
        self._model_after_start = model_after_start
        self.result: BuildResult | None = None
        self.builder: builders.Builder | None = None
        self._proc = None
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self.docker_config: Path | None = None  # while the build runs (tests check it is gone after)
        # set once the project snapshot is taken (while the build starts), or when the run ends without one
        self.snapshot_taken = threading.Event()
        self._on_cache_change: Callable[[Any], None] | None = None  # the model's cache import/export changed

    # -- control ---------------------------------------------------------------------------
    def start(self) -> "BuildRun":
        self._thread = threading.Thread(target=self.run, name="railpack-tui-build", daemon=True)
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()
        proc = self._proc
        if proc is not None:
            proc.cancel()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def pgid(self) -> int | None:
        return getattr(self._proc, "pgid", None) if self._proc is not None else None

    def wait(self, timeout: float | None = None) -> BuildResult | None:
        self._done.wait(timeout)
        return self.result

    # -- work ------------------------------------------------------------------------------
    def _phase(self, msg: str) -> None:
        self.on_event(RunEvent("phase", msg))

    def _check_cancel(self) -> None:
        if self._cancel.is_set():
            raise _Cancelled()

    def _new_model(self, masker=None, cache_expected: bool = False) -> None:
        from .model import BuildModel

        model = BuildModel(format="rawjson")
        model.masker = masker
        if cache_expected:
            self._expect_cache(model)
        self.model = model

    def _expect_cache(self, model) -> None:
        req = self.request
        model.expect_cache(import_refs=req.import_refs(), export_refs=req.export_refs(),
                           ignore_export_error=req.ignore_export_error)

    def run(self) -> BuildResult:
        req = self.request
        started = time.time()
        t0 = time.monotonic()
        tail: list[str] = []
        error: RailpackTuiError | None = None
        rc: int | None = None
        engine = None
        command = ""
        notes: list[str] = []
        snapshot = None
        run_id = None
        probe: _Probe | None = None
        prepared: _Prepared | None = None
        validated = cache_expected = False
        masker = None
        try:
            try:
                req.validate()
                validated = True
                if not self._model_after_start:
                    self._new_model()
                self._check_cancel()
                self.builder = builders.resolve(req.builder, tls=req.tls())
                self._phase(f"checking builder {self.builder.display}")
                if self.builder.addr is None and req.engine != "buildx":
                    from .engines.buildx import as_buildkit_builder

                    self.builder = as_buildkit_builder(self.builder.buildx_name or "")
                if self.builder.addr is not None:
                    probe = _Probe(self.builder, delay=PROBE_AFTER_S)
                engine = make_engine(req.engine, self.builder)
                command = engine.command_line(req)
                if probe is not None and _has_preparation(engine):
                    probe.result()  # a dead builder fails before a long preparation
                self._check_cancel()
                prepared = _Prepared(req, _writes_into_context(req), self.snapshot_taken, self.builder.display)
                creds = []
                cache_host = _registry_of(req.cache_ref) if req.cache_ref and req.cache_username else None
                for host in req.registries() + list(getattr(engine, "extra_registries", lambda r: [])(req)):
                    cred = _credential_for(host, req.cache_username if host == cache_host else None)
                    if cred is not None:
                        creds.append(cred)
                    else:
                        notes.append(f"no saved credential for {host}: the build talks to it anonymously")
                # never shown in logs or errors; None (no per-line check) when the build holds no secret
                masker = masking.Masker(c.password for c in creds) or None
                if self.model is not None:
                    self.model.masker = masker
                masking.remember(c.password for c in creds)
                _refuse_secret_build_args(req, masker)
                cfg = dockerconfig.write(creds)
                self.docker_config = cfg
                try:
                    self._check_cancel()
                    engine.prepare(req, str(cfg), self._phase)
                    command = engine.command_line(req)
                    self._check_cancel()
                    cache_expected = True
                    if self.model is not None:
                        self._expect_cache(self.model)
                    self._proc = engine.start(req, str(cfg))
                    if self._cancel.is_set():
                        self._proc.cancel()
                    if self.model is None:  # made while buildctl starts (its first line is tens of ms away)
                        self._new_model(masker, cache_expected)
                    prepared.start()
                    self._on_cache_change = prepared.read_debug_ahead
                    pending = probe if probe is not None and not probe.consumed else None
                    if pending is not None:
                        pending.stop_with(self._proc.kill)  # it never showed progress: it never reached BuildKit
                    rc = self._pump(self._proc, tail, pending, f"building with {engine.name} on {self.builder.display}")
                    lost = "\n".join([self.model.error or ""] + tail[-5:])
                    if rc and not self._cancel.is_set() and builders.connection_lost(lost):
                        error = builders.lost_error(self.builder, self.model.error or tail[-1])
                finally:
                    dockerconfig.remove(cfg)
                    engine.cleanup()
                notes += engine.notes
            except BaseException:
                if probe is not None and not probe.consumed:
                    probe.result()  # the builder's error comes first, as when it was probed first
                raise
            finally:
                if probe is not None:
                    probe.finish()
        except _Cancelled:
            pass
        except RailpackTuiError as exc:
            error = exc
        except Exception as exc:  # noqa: BLE001 - a bug must end the run, not hang whoever waits on it
            from .crashlog import record as crash

            error = RailpackTuiError(f"internal error: {type(exc).__name__}: {exc}", fix=f"please report it with {crash(exc)}",
                                     kind="internal")
            if self._proc is not None:
                self._proc.cancel()
        cancelled = self._cancel.is_set()
        if self.model is None and validated:  # ended before the engine started: the model it had then
            self._new_model(masker, cache_expected)
        if prepared is not None:
            snapshot = prepared.join()  # never left running: it may run git
            notes[:0] = prepared.notes  # the snapshot's notes first, where they were when it was taken first
        if self.model is not None:
            self.model.finish(returncode=rc, cancelled=cancelled)
            if rc is not None:
                run_id = _after_build(req, self.model, snapshot, notes, prepared,
                                      self.builder.display if self.builder else None)
            self.on_event(RunEvent("progress", changes=self.model.drain_changes()))
        self.result = BuildResult(request=req, model=self.model, engine=req.engine,
                                  builder=self.builder.display if self.builder else (req.builder or ""),
                                  run_id=run_id if run_id is not None else os.urandom(6).hex(), started_at=started,
                                  duration_s=time.monotonic() - t0, returncode=rc, cancelled=cancelled,
                                  command_line=self.model.masker.text(command) if self.model is not None and self.model.masker
                                  else command, output_tail=tail[-20:], error=error, notes=notes,
                                  plan_steps=dict(getattr(engine, "step_for_vertex", {}) or {}),
                                  plan=getattr(engine, "plan", None))
        self.snapshot_taken.set()
        self._done.set()
        self.on_event(RunEvent("finished", result=self.result))
        return self.result

    def _pump(self, proc, tail: list[str], probe: _Probe | None = None, building: str = "") -> int:
        """Every output line into the model (and the progress file). While `probe` is pending, lines
        are held back: the first progress line proves the builder answers; an engine that ends
        without one (or is stopped by a failed probe) waits for the probe, whose error is then the
        run's, with nothing shown of the engine: as when the probe ran before the build."""
        sink = None
        held: list[str] | None = [] if probe is not None else None

        def begin() -> None:
            nonlocal sink
            self._phase(building)
            if self.request.progress_file:
                try:
                    sink = open(self.request.progress_file, "w", buffering=1)  # line-buffered: tail -f works
                except OSError as exc:
                    proc.cancel()
                    proc.wait()
                    raise BadInput(f"--progress-file {self.request.progress_file!r} cannot be written: {exc.strerror}.",
                                   fix="name a file in a directory you can write to") from None

        try:
            if held is None:
                begin()
            for batch in proc.batches():
                if held is not None:
                    for n, line in enumerate(batch):
                        if line.startswith("{") and probe.proven():
                            begin()
                            batch = held + batch[n:]
                            held = None
                            break
                        held.append(line)
                    else:
                        continue
                self._take(batch, tail, sink)
            rc = proc.wait()
            if held is not None:  # the engine ended without showing progress: was it the builder?
                if not self._cancel.is_set():
                    probe.result()
                begin()
                self._take(held, tail, sink)
            return rc
        finally:
            if sink:
                sink.close()

    def _take(self, lines: list[str], tail: list[str], sink) -> None:
        """One read's lines into the model, then one progress event: never a change held back
        while the engine is quiet (the event follows the last line there is), and not one
        event per line of a flood."""
        model = self.model
        if sink:  # no secret on disk
            sink.write("".join(masking.progress_line(model.masker, line) + "\n" for line in lines))
        feed = model.feed_line
        for line in lines:
            feed(line)  # a non-JSON line too: it keeps the build's error text (`error: ...`), masked
            if not line.startswith("{") and line.strip():
                line = model.masker.text(line) if model.masker else line
                tail.append(line)
                del tail[:-50]
                self.on_event(RunEvent("output", line))
        changes = model.drain_changes()
        if changes:
            if _CACHE_CHANGED in changes and self._on_cache_change is not None:
                try:
                    self._on_cache_change(model)
                except Exception:  # noqa: BLE001 - only a head start: the work is done after the build anyway
                    self._on_cache_change = None
            self.on_event(RunEvent("progress", changes=changes))


def run_build(request: BuildRequest, on_event: Callable[[RunEvent], None] | None = None) -> BuildResult:
    """Build synchronously in the calling thread."""
    return BuildRun(request, on_event).run()


def stop_all_builds() -> None:
    """Stop every engine process group this process started (SIGINT: buildctl/buildx cancel the
    solve, BuildKit stops the step) and remove every temporary Docker config at once."""
    from .engines.base import kill_live_groups

    kill_live_groups(signal.SIGINT)
    dockerconfig.remove_all()


def install_signal_handlers() -> None:
    """On SIGTERM/SIGHUP: `stop_all_builds()`, then die of the signal as usual. Main thread only."""

    def handler(signum, frame):
        stop_all_builds()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, handler)


__all__ = ["BuildRequest", "BuildRun", "BuildResult", "RunEvent", "run_build", "install_signal_handlers", "stop_all_builds",
           "make_engine"]
