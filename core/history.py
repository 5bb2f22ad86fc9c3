"""Every build, recorded in SQLite (stdlib `sqlite3`) at `paths.data_dir()/history.sqlite3`.

Schema versioned with `PRAGMA user_version` and forward-only migrations (`MIGRATIONS[i]` takes the
database from version i to i+1). A database that is corrupt, unreadable or from a newer
railpack-tui is set aside (renamed `history.sqlite3.broken-<UTC time>`, with its -wal/-shm) and a
fresh one started: never fatal; `History.notices` says what happened.

What a run holds: project path, engine, builder, cache ref, mode, flags, git revision + dirty
flag, build args, base image digests (from the FROM steps BuildKit names with their digest), each
step's name/stage/index/state/time/pulled bytes/miss, the cache import/export outcomes, and the
build context manifest (path, size, mode, sha256: never contents) with the Dockerfile text.

Module-level `record(request_info, model, snapshot)` and `default()` use the default database
(the runner calls `history.record(...)` on the module).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
import weakref
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from . import paths

FILENAME = "history.sqlite3"
KEEP_CONTEXTS = 100  # context manifests kept per project (the runs themselves are kept)
_DIGEST_IN_FROM = re.compile(r"\] FROM (\S+)$")

MIGRATIONS: list[str] = [
    # 0 -> 1: runs and their steps
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        project TEXT NOT NULL,
        started_at REAL NOT NULL,
        duration_s REAL,
        status TEXT NOT NULL,
        engine TEXT, builder TEXT, cache_ref TEXT, mode TEXT,
        no_import INTEGER NOT NULL DEFAULT 0, no_export INTEGER NOT NULL DEFAULT 0,
        no_cache INTEGER NOT NULL DEFAULT 0,
        git_rev TEXT, git_dirty INTEGER,
        build_args TEXT NOT NULL DEFAULT '{}',
        base_images TEXT NOT NULL DEFAULT '{}',
        cache_import TEXT NOT NULL DEFAULT '[]',
        cache_export TEXT NOT NULL DEFAULT '[]',
        summary TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX runs_project ON runs(project, id);
    CREATE TABLE steps (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        stage TEXT, idx INTEGER, total INTEGER,
        state TEXT NOT NULL,
        duration_s REAL, pulled_bytes INTEGER NOT NULL DEFAULT 0,
        error TEXT, miss TEXT,
        PRIMARY KEY (run_id, position)
    );
    CREATE INDEX steps_name ON steps(name, state);
    """,
    # 1 -> 2: the build context manifest and the Dockerfile text, per run
    """
    CREATE TABLE contexts (
        run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
        kind TEXT,
        dockerfile_text TEXT,
        dockerignore TEXT,
        ignored INTEGER NOT NULL DEFAULT 0,
        files BLOB NOT NULL
    );
    ALTER TABLE runs ADD COLUMN target TEXT;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)
IN_CACHE = ("cached", "executed")  # step states after which its result is in the builder's cache


@dataclass
class StepRecord:
    name: str
    stage: str | None
    index: int | None
    total: int | None
    state: str
    duration_s: float | None
    pulled_bytes: int
    error: str | None = None
    miss: dict | None = None

    def to_json(self) -> dict:
        return {"name": self.name, "stage": self.stage, "index": self.index, "total": self.total, "state": self.state,
                "duration_s": self.duration_s, "pulled_bytes": self.pulled_bytes, "error": self.error, "miss": self.miss}


@dataclass
class Run:
    id: int
    project: str
    started_at: float
    duration_s: float | None
    status: str
    engine: str | None
    builder: str | None
    cache_ref: str | None
    mode: str | None
    no_import: bool
    no_export: bool
    no_cache: bool
    git_rev: str | None
    git_dirty: bool | None
    build_args: dict
    base_images: dict
    cache_import: list
    cache_export: list
    summary: dict
    target: str | None = None
    steps: list[StepRecord] = field(default_factory=list)
    _history: "History | None" = field(default=None, repr=False, compare=False)
    _context: dict | None = field(default=None, repr=False, compare=False)

    def step(self, name: str) -> StepRecord | None:
        return next((s for s in self.steps if s.name == name), None)

    def step_at(self, stage: str | None, index: int | None) -> StepRecord | None:
        if index is None:
            return None
        return next((s for s in self.steps if (s.stage or "") == (stage or "") and s.index == index), None)

    def context(self) -> dict | None:
        """{"kind", "dockerfile_text", "dockerignore", "ignored", "files": {path: {size, mode, sha256}}}."""
        if self._context is None and self._history is not None:
            self._context = self._history.context(self.id)
        return self._context

    def to_json(self, with_steps: bool = True) -> dict:
        d = {k: getattr(self, k) for k in ("id", "project", "started_at", "duration_s", "status", "engine", "builder",
                                           "cache_ref", "mode", "no_import", "no_export", "no_cache", "git_rev",
                                           "git_dirty", "build_args", "base_images", "cache_import", "cache_export",
                                           "summary", "target")}
        if with_steps:
            d["steps"] = [s.to_json() for s in self.steps]
        return d


def base_image_digests(model) -> dict[str, str]:
    """Stage (or "" for a single stage) -> the resolved `ref@sha256:...` from the FROM steps."""
    out = {}
    for st in getattr(model, "steps", []) or []:
        m = _DIGEST_IN_FROM.search(st.name or "")
        if m and "@sha256:" in m.group(1):
            out[st.stage or ""] = m.group(1)
    return out


class History:
    def __init__(self, conn: sqlite3.Connection, path: Path, notices: list[str]) -> None:
        self.conn = conn
        self.path = path
        self.notices = notices
        self._lock = threading.RLock()
        self._recorded: dict[int, tuple] = {}  # id(model) -> (weakref to the model, run id)

    # -------------------------------------------------------------- opening
    @classmethod
    def open(cls, path: str | Path | None = None) -> "History":
        path = Path(path) if path else paths.data_dir() / FILENAME
        notices: list[str] = []
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            notices.append(f"history directory {path.parent} is not writable ({exc.strerror}); history kept in memory for this session")
            return cls(_memory(), path, notices)
        for attempt in range(2):
            try:
                conn = _connect(str(path))
                _check_and_migrate(conn)
                _checkpoint(conn)
                return cls(conn, path, notices)
            except (sqlite3.DatabaseError, _TooNew, OSError) as exc:
                try:
                    conn.close()  # type: ignore[possibly-undefined]
                except Exception:
                    pass
                if attempt:
                    break
                moved = _set_aside(path)
                reason = str(exc) or type(exc).__name__
                notices.append(f"the history database {path} could not be used ({reason}); "
                               + (f"it was set aside as {moved} and a new one started" if moved else "a new one was started in memory"))
                if not moved:
                    break
        return cls(_memory(), path, notices)

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    # -------------------------------------------------------------- writing
    def record(self, request_info: dict, model, snapshot) -> int:
        info = request_info or {}
        project = _norm(info.get("project") or (snapshot.project_path if snapshot else "") or "")
        report = model.to_report() if hasattr(model, "to_report") else {}
        steps = list(getattr(model, "steps", []) or [])
        started = getattr(model, "first_time", None) or (snapshot.taken_at if snapshot else None) or time.time()
        bases = dict(snapshot.base_images) if snapshot else {}
        bases.update(base_image_digests(model))
        row = (project, float(started), report.get("duration_s"), str(report.get("status") or getattr(model, "status", "")),
               info.get("engine"), info.get("builder"), info.get("cache_ref"), info.get("mode"),
               int(bool(info.get("no_import"))), int(bool(info.get("no_export"))), int(bool(info.get("no_cache"))),
               snapshot.git_rev if snapshot else None,
               None if not snapshot or snapshot.git_dirty is None else int(snapshot.git_dirty),
               json.dumps(dict(info.get("build_args") or (snapshot.build_args if snapshot else {}) or {})),
               json.dumps(bases), json.dumps(report.get("cache_import", [])), json.dumps(report.get("cache_export", [])),
               json.dumps(report.get("summary", {})), info.get("target"))
        with self._lock, self.conn:
            cur = self.conn.execute(
                "INSERT INTO runs (project, started_at, duration_s, status, engine, builder, cache_ref, mode, no_import,"
                " no_export, no_cache, git_rev, git_dirty, build_args, base_images, cache_import, cache_export, summary, target)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", row)
            run_id = int(cur.lastrowid)
            self.conn.executemany(
                "INSERT INTO steps (run_id, position, name, stage, idx, total, state, duration_s, pulled_bytes, error, miss)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [(run_id, i, s.name, s.stage, s.index, s.total, _final_state(s.state), s.duration_s, int(s.pulled_bytes or 0),
                  s.error, json.dumps(s.miss) if s.miss else None) for i, s in enumerate(steps)])
            if snapshot is not None:
                files = {k: {"size": v.size, "mode": v.mode, "sha256": v.sha256} for k, v in snapshot.files.items()}
                self.conn.execute(
                    "INSERT INTO contexts (run_id, kind, dockerfile_text, dockerignore, ignored, files) VALUES (?,?,?,?,?,?)",
                    (run_id, snapshot.kind, snapshot.dockerfile_text, snapshot.dockerignore, snapshot.ignored,
                     zlib.compress(json.dumps(files, separators=(",", ":")).encode())))
            self._prune(project, KEEP_CONTEXTS)  # in the same transaction: one commit per build
        self._remember(model, run_id)
        return run_id

    def prune_contexts(self, project_path, keep: int = KEEP_CONTEXTS) -> int:
        """Drop the context manifests of all but the newest `keep` runs of a project (they are the
        bulk of the database); returns how many were dropped."""
        with self._lock, self.conn:
            return self._prune(_norm(project_path), keep)

    def _prune(self, project: str, keep: int) -> int:
        cur = self.conn.execute(
            "DELETE FROM contexts WHERE run_id IN (SELECT id FROM runs WHERE project = ? ORDER BY id DESC LIMIT -1 OFFSET ?)",
            (project, int(keep)))
        return cur.rowcount

    def _remember(self, model, run_id: int) -> None:
        try:
            ref = weakref.ref(model)
        except TypeError:
            return
        self._recorded = {k: v for k, v in self._recorded.items() if v[0]() is not None}
        self._recorded[id(model)] = (ref, run_id)

    def run_id_of(self, model) -> int | None:
        """The run id `record` gave this very model object (None if it was not recorded here)."""
        entry = self._recorded.get(id(model))
        return entry[1] if entry and entry[0]() is model else None

    def set_misses(self, run_id: int, misses: dict[str, dict | None]) -> None:
        """Store the explanations computed after the run was recorded (step name -> miss)."""
        with self._lock, self.conn:
            self.conn.executemany("UPDATE steps SET miss = ? WHERE run_id = ? AND name = ?",
                                  [(json.dumps(m) if m else None, run_id, name) for name, m in misses.items()])

    # -------------------------------------------------------------- reading
    def runs(self, project_path: str | Path | None = None, limit: int = 20, with_steps: bool = True) -> list[Run]:
        """Newest first."""
        with self._lock:
            if project_path is None:
                rows = self.conn.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (int(limit),)).fetchall()
            else:
                rows = self.conn.execute("SELECT * FROM runs WHERE project = ? ORDER BY id DESC LIMIT ?",
                                         (_norm(project_path), int(limit))).fetchall()
            return [self._run(r, with_steps) for r in rows]

    def get(self, run_id: int) -> Run | None:
        with self._lock:
            r = self.conn.execute("SELECT * FROM runs WHERE id = ?", (int(run_id),)).fetchone()
            return self._run(r, True) if r else None

    def newest_run_id(self, project_path, before_run_id: int | None = None) -> int | None:
        """The id of the project's newest run (before `before_run_id`), None when it has none."""
        with self._lock:
            r = self.conn.execute("SELECT MAX(id) FROM runs WHERE project = ? AND id < ?",
                                  (_norm(project_path), int(before_run_id) if before_run_id is not None else 2 ** 62)).fetchone()
        return r[0] if r else None

    def previous_runs(self, project_path, before_run_id: int | None = None, limit: int = 50) -> list[Run]:
        """Earlier runs of a project, newest first."""
        with self._lock:
            rows = self.conn.execute(
                "SELECT * FROM runs WHERE project = ? AND id < ? ORDER BY id DESC LIMIT ?",
                (_norm(project_path), int(before_run_id) if before_run_id is not None else 2 ** 62, int(limit))).fetchall()
            return [self._run(r, True) for r in rows]

    def previous_with_cached_step(self, project_path, step_name: str, before_run_id: int | None = None,
                                  states: tuple[str, ...] = IN_CACHE) -> Run | None:
        """The newest earlier run of the project after which a step of this name was in the cache:
        it was cached, or it executed (and its result was stored). `states=("cached",)` for strictly
        cached."""
        with self._lock:
            marks = ",".join("?" * len(states))
            r = self.conn.execute(
                "SELECT runs.* FROM runs JOIN steps ON steps.run_id = runs.id WHERE runs.project = ? AND runs.id < ?"
                f" AND steps.name = ? AND steps.state IN ({marks}) ORDER BY runs.id DESC LIMIT 1",
                (_norm(project_path), int(before_run_id) if before_run_id is not None else 2 ** 62, step_name, *states)).fetchone()
            return self._run(r, True) if r else None

    def previous_with_step_at(self, project_path, stage: str | None, index: int, before_run_id: int | None = None,
                              states: tuple[str, ...] | None = IN_CACHE) -> Run | None:
        """The newest earlier run with a step at this (stage, index), in one of these states (None: any)."""
        with self._lock:
            q = ("SELECT runs.* FROM runs JOIN steps ON steps.run_id = runs.id WHERE runs.project = ? AND runs.id < ?"
                 " AND IFNULL(steps.stage, '') = ? AND steps.idx = ?")
            args: list = [_norm(project_path), int(before_run_id) if before_run_id is not None else 2 ** 62, stage or "", int(index)]
            if states:
                q += f" AND steps.state IN ({','.join('?' * len(states))})"
                args += list(states)
            r = self.conn.execute(q + " ORDER BY runs.id DESC LIMIT 1", args).fetchone()
            return self._run(r, True) if r else None

    def last_export_to(self, cache_ref: str, before_run_id: int | None = None) -> Run | None:
        """The newest earlier run (any project) that exported to this cache ref."""
        with self._lock:
            r = self.conn.execute(
                "SELECT * FROM runs WHERE cache_ref = ? AND no_export = 0 AND id < ? ORDER BY id DESC LIMIT 1",
                (cache_ref, int(before_run_id) if before_run_id is not None else 2 ** 62)).fetchone()
            return self._run(r, True) if r else None

    def context(self, run_id: int) -> dict | None:
        with self._lock:
            r = self.conn.execute("SELECT * FROM contexts WHERE run_id = ?", (int(run_id),)).fetchone()
        if r is None:
            return None
        try:
            files = json.loads(zlib.decompress(r["files"]).decode())
        except (zlib.error, ValueError):
            files = {}
        return {"kind": r["kind"], "dockerfile_text": r["dockerfile_text"], "dockerignore": r["dockerignore"],
                "ignored": r["ignored"], "files": files}

    def _run(self, r: sqlite3.Row, with_steps: bool) -> Run:
        run = Run(id=r["id"], project=r["project"], started_at=r["started_at"], duration_s=r["duration_s"], status=r["status"],
                  engine=r["engine"], builder=r["builder"], cache_ref=r["cache_ref"], mode=r["mode"],
                  no_import=bool(r["no_import"]), no_export=bool(r["no_export"]), no_cache=bool(r["no_cache"]),
                  git_rev=r["git_rev"], git_dirty=None if r["git_dirty"] is None else bool(r["git_dirty"]),
                  build_args=_loads(r["build_args"], {}), base_images=_loads(r["base_images"], {}),
                  cache_import=_loads(r["cache_import"], []), cache_export=_loads(r["cache_export"], []),
                  summary=_loads(r["summary"], {}), target=r["target"], _history=self)
        if with_steps:
            rows = self.conn.execute("SELECT * FROM steps WHERE run_id = ? ORDER BY position", (run.id,)).fetchall()
            run.steps = [StepRecord(name=s["name"], stage=s["stage"], index=s["idx"], total=s["total"], state=s["state"],
                                    duration_s=s["duration_s"], pulled_bytes=s["pulled_bytes"], error=s["error"],
                                    miss=_loads(s["miss"], None)) for s in rows]
        return run


class _TooNew(Exception):
    pass


def _final_state(state: str) -> str:
    return "pending" if state == "running" else state


def _loads(text, default):
    if text is None:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


def _norm(project_path) -> str:
    return str(Path(project_path).expanduser().resolve()) if project_path else ""


def _connect(where: str) -> sqlite3.Connection:
    conn = sqlite3.connect(where, timeout=10, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _memory() -> sqlite3.Connection:
    conn = _connect(":memory:")
    _check_and_migrate(conn)
    return conn


def _check_and_migrate(conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise _TooNew(f"it was written by a newer railpack-tui (schema {version}, this one knows {SCHEMA_VERSION})")
    if version > 0:
        ok = conn.execute("PRAGMA quick_check").fetchone()[0]
        if ok != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {ok}")
    for v in range(version, SCHEMA_VERSION):
        with conn:
            conn.executescript("BEGIN;" + MIGRATIONS[v] + f";PRAGMA user_version = {v + 1};COMMIT;")
    conn.execute("PRAGMA journal_mode = WAL")
    # WAL + NORMAL: a commit does not wait for fsync (the WAL is synced at checkpoints). The database
    # stays consistent on any crash; only a power loss may drop the last recorded builds.
    conn.execute("PRAGMA synchronous = NORMAL")


WAL_LIMIT = 1 << 20  # bytes the WAL file is cut back to when it starts over


def _checkpoint(conn: sqlite3.Connection) -> None:
    """Copy what the WAL holds into the database, waiting for no one (PASSIVE), so the next commit
    starts the WAL over (and cuts its file back to WAL_LIMIT). A `railpack-tui build` process ends
    without closing the database (cli.skip_teardown), and the WAL recovery of the next opening
    forgets which frames were already copied: without this, nothing ever let the WAL start over.
    It grew by every build (7 MB after 250), every opening read all of it back, and past 1,000
    pages every build's commit ran SQLite's auto-checkpoint (two fsyncs) after the build. The
    runner opens the history while BuildKit builds, so this costs the build nothing."""
    try:
        conn.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT}").fetchone()
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    except sqlite3.Error:
        pass  # only housekeeping: SQLite's own auto-checkpoint still bounds a WAL that cannot start over


def _set_aside(path: Path) -> Path | None:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.broken-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.broken-{stamp}-{n}")
        n += 1
    try:
        if path.exists():
            os.replace(path, target)
        for suffix in ("-wal", "-shm", "-journal"):
            side = path.with_name(path.name + suffix)
            if side.exists():
                os.replace(side, target.with_name(target.name + suffix))
        return target
    except OSError:
        return None


# ------------------------------------------------------------------ the default database
_default: History | None = None
_default_lock = threading.Lock()


def default() -> History:
    """The process's History on the default path (reopened when RAILPACK_TUI_DATA_DIR changes)."""
    global _default
    with _default_lock:
        want = paths.data_dir() / FILENAME
        if _default is None or _default.path != want:
            _default = History.open(want)
        return _default


def record(request_info: dict, model, snapshot) -> int | None:
    """Record on the default database; a database error (disk full, locked for too long) is noted in
    `default().notices` and the crash log, never raised: the build itself is not affected."""
    h = default()
    try:
        return h.record(request_info, model, snapshot)
    except sqlite3.Error as exc:
        from .crashlog import record as crash

        where = crash(exc)
        h.notices.append(f"the build was not recorded in the history ({exc}); details in {where}")
        return None


def runs(project_path, limit: int = 20) -> list[Run]:
    return default().runs(project_path, limit)


def get(run_id: int) -> Run | None:
    return default().get(run_id)
