"""Two recorded builds side by side: their steps paired (by stage + index, then by name: a RUN's
name carries its expanded command, so a changed build arg renames it) and what changed between
them (build args, base images, files of the context, the Dockerfile, the cache ref and options,
the cache import). Pure functions over `core.history.Run`; `Run.context()` reads the database, so
call `compare` off the UI thread."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATE_LABELS = {"cached": "CACHED", "executed": "RAN", "error": "ERROR", "cancelled": "CANCELED", "pending": "PENDING"}
MAX_FILES_SHOWN = 6


@dataclass
class StepPair:
    name: str
    a: Any = None  # core.history.StepRecord | None
    b: Any = None

    @property
    def changed(self) -> bool:
        if self.a is None or self.b is None:
            return True
        return self.a.state != self.b.state or self.a.name != self.b.name

    @property
    def direction(self) -> str:
        """`worse` (B lost a hit), `better` (B gained one), `same`, or `other`."""
        sa = self.a.state if self.a is not None else None
        sb = self.b.state if self.b is not None else None
        if sa == sb:
            return "same"
        if sa == "cached" and sb in ("executed", "error"):
            return "worse"
        if sb == "cached" and sa in ("executed", "error", None):
            return "better"
        return "other"


@dataclass
class RunDiff:
    a: Any
    b: Any
    pairs: list[StepPair] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)  # one line each; empty: nothing changed that we track


def _instruction(name: str) -> str:
    """`[build 2/3] RUN make` -> `RUN make` (names without the step numbering)."""
    return name.partition("] ")[2] if name.startswith("[") else name


def pair_steps(a: Any, b: Any) -> list[StepPair]:
    """B's steps in B's order, each with its counterpart in A (same stage and index, else the same
    name, else the same instruction in the same stage); A's unmatched steps at the end."""
    used: set[int] = set()
    pairs: list[StepPair] = []
    a_steps = list(a.steps)
    for sb in b.steps:
        match = None
        if sb.index is not None:
            match = next((s for i, s in enumerate(a_steps) if i not in used and (s.stage or "") == (sb.stage or "")
                          and s.index == sb.index and s.total == sb.total), None)
        if match is None:
            match = next((s for i, s in enumerate(a_steps) if i not in used and s.name == sb.name), None)
        if match is None:  # a step added or removed before it renumbers the stage: same instruction
            match = next((s for i, s in enumerate(a_steps) if i not in used and (s.stage or "") == (sb.stage or "")
                          and _instruction(s.name) == _instruction(sb.name)), None)
        if match is not None:
            used.add(a_steps.index(match))
        pairs.append(StepPair(sb.name, match, sb))
    for i, sa in enumerate(a_steps):
        if i not in used:
            pairs.append(StepPair(sa.name, sa, None))
    return pairs


def _dict_changes(what: str, old: dict, new: dict) -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            if key not in old:
                out.append(f"{what} {key} added: {new[key]}")
            elif key not in new:
                out.append(f"{what} {key} removed (was {old[key]})")
            else:
                out.append(f"{what} {key}: {old[key]} → {new[key]}")
    return out


def _files_changes(old: dict | None, new: dict | None) -> list[str]:
    if old is None or new is None:
        return []
    old_files, new_files = old.get("files") or {}, new.get("files") or {}
    added = sorted(set(new_files) - set(old_files))
    removed = sorted(set(old_files) - set(new_files))
    modified = sorted(p for p in set(old_files) & set(new_files)
                      if (old_files[p] or {}).get("sha256") != (new_files[p] or {}).get("sha256")
                      or (old_files[p] or {}).get("mode") != (new_files[p] or {}).get("mode"))
    out = []
    for label, paths in (("modified", modified), ("added", added), ("removed", removed)):
        if paths:
            shown = ", ".join(paths[:MAX_FILES_SHOWN]) + (f" and {len(paths) - MAX_FILES_SHOWN} more" if len(paths) > MAX_FILES_SHOWN else "")
            out.append(f"files {label}: {shown}")
    if (old.get("dockerfile_text") or "") != (new.get("dockerfile_text") or ""):
        out.append("the Dockerfile was edited")
    return out


def _import_state(run: Any) -> str:
    outcomes = run.cache_import or []
    if run.no_import or not (outcomes or run.cache_ref):  # not asked for: the Build screen's word
        return "off"
    if not outcomes:
        return "none"
    return ", ".join(str(o.get("state", "?")) for o in outcomes if isinstance(o, dict)) or "none"


def run_changes(a: Any, b: Any) -> list[str]:
    out: list[str] = []
    for attr, label in (("engine", "engine"), ("cache_ref", "cache ref"), ("mode", "cache mode"), ("target", "target")):
        if getattr(a, attr) != getattr(b, attr):
            out.append(f"{label}: {getattr(a, attr) or '(none)'} → {getattr(b, attr) or '(none)'}")
    for attr, label in (("no_import", "no import"), ("no_export", "no export"), ("no_cache", "no cache")):
        if getattr(a, attr) != getattr(b, attr):
            out.append(f"{label}: {'on' if getattr(b, attr) else 'off'}")
    if _import_state(a) != _import_state(b):
        out.append(f"cache import: {_import_state(a)} → {_import_state(b)}")
    out += _dict_changes("build arg", a.build_args or {}, b.build_args or {})
    out += _dict_changes("base image", a.base_images or {}, b.base_images or {})
    if a.git_rev and b.git_rev and (a.git_rev != b.git_rev):
        out.append(f"git: {a.git_rev[:10]} → {b.git_rev[:10]}")
    if a.git_dirty != b.git_dirty and b.git_dirty is not None:
        out.append("git: uncommitted changes" if b.git_dirty else "git: work tree clean")
    out += _files_changes(a.context(), b.context())
    return out


def compare(a: Any, b: Any) -> RunDiff:
    """A is the older build, B the newer (the screen passes them in that order)."""
    return RunDiff(a, b, pair_steps(a, b), run_changes(a, b))


def hit_ratio(run: Any) -> float | None:
    summary = run.summary or {}
    if "hit_ratio" in summary and summary.get("steps"):
        return float(summary["hit_ratio"])
    steps = [s for s in run.steps]
    if not steps:
        return None
    return sum(1 for s in steps if s.state == "cached") / len(steps)


def compare_swapped(diff: RunDiff) -> RunDiff:
    """B against A (their contexts are already loaded, so this stays cheap)."""
    return compare(diff.b, diff.a)
