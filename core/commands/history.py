"""`railpack-tui history PATH [--limit N] [--json]`: the recorded builds of a project, newest
first, with the newest build's misses and why. Exit 0 (also with no builds yet), 2 for a path that
does not exist."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .. import history as history_mod
from ..errors import BadInput
from ..report import human_bytes, human_time, percent

SQLITE_INT_MAX = 2**63 - 1


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _row(run: history_mod.Run) -> tuple[str, ...]:
    sm = run.summary or {}
    git = (run.git_rev or "")[:8] + ("+dirty" if run.git_dirty else "") if run.git_rev else "-"
    args = " ".join(f"{k}={v}" for k, v in sorted((run.build_args or {}).items())) or "-"
    cache = run.cache_ref or "-"
    if run.cache_ref:
        flags = [f for f, on in (("no-import", run.no_import), ("no-export", run.no_export)) if on]
        cache += f" ({run.mode or 'max'}{', ' + ', '.join(flags) if flags else ''})"
    if run.no_cache:
        cache += " no-cache"
    return (f"#{run.id}", _when(run.started_at), run.status, human_time(run.duration_s),
            f"{sm.get('cached', 0)}/{sm.get('steps', 0)}", percent(sm.get("hit_ratio")),
            human_bytes(sm.get("pulled_bytes")), git, cache, args)


def render(project: str, runs: list[history_mod.Run]) -> str:
    if not runs:
        return f"no builds recorded for {project} yet (build it: railpack-tui build {project})"
    header = ("RUN", "WHEN", "STATUS", "TIME", "CACHED", "HIT", "PULLED", "GIT", "CACHE REF", "BUILD ARGS")
    rows = [header] + [_row(r) for r in runs]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [f"builds of {project} (newest first)", ""]
    lines += ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in rows]
    newest = runs[0]
    misses = [s for s in newest.steps if s.state in ("executed", "error") and s.miss]
    lines.append("")
    if not misses:
        cached = sum(1 for st in newest.steps if st.state == "cached")
        if not newest.steps:
            lines.append(f"build #{newest.id}: no steps recorded")
        elif cached == len(newest.steps):
            ended = {"success": "", "cancelled": "was cancelled", "incomplete": "is incomplete"}.get(newest.status, newest.status)
            but = f", but the build {ended}" if ended else ""  # e.g. failed: its cache export was refused
            lines.append(f"build #{newest.id}: every step cached{but}")
        else:  # e.g. a build that stopped before its steps ran (cancelled, builder lost)
            lines.append(f"build #{newest.id}: {newest.status}, {cached}/{len(newest.steps)} steps cached")
    else:
        lines.append(f"why build #{newest.id} missed:")
        for s in misses:
            m = s.miss
            if m.get("kind") == "parent-missed":
                continue
            lines.append(f"  {s.name}")
            lines.append(f"    {m.get('kind')}: {m.get('detail')}")
            for d in (m.get("diff") or "").splitlines()[2:]:
                lines.append(f"      {d}")
            debug = m.get("cache_debug")
            if debug:
                lines.append(f"    cache keys: {'confirmed' if debug.get('confirmed') else 'not confirmed'}: "
                             f"{debug.get('evidence') or debug.get('note')}")
        n_parent = sum(1 for s in misses if s.miss.get("kind") == "parent-missed")
        if n_parent:
            lines.append(f"  + {n_parent} later step{'s' if n_parent != 1 else ''} re-ran because an earlier step did (parent-missed)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    p = Path(args.path).expanduser()
    if not p.exists():
        raise BadInput(f"{args.path} does not exist.", fix="pass the project directory you built")
    if p.is_file():
        p = p.parent
    project = str(p.resolve())
    if args.limit < 1:
        raise BadInput("--limit must be at least 1.", fix="pass --limit 20, for example")
    limit = min(args.limit, SQLITE_INT_MAX)  # a bigger number means "all" (SQLite cannot take it)
    h = history_mod.default()
    for n in h.notices:
        print(f"railpack-tui: {n}", file=sys.stderr)
    runs = h.runs(project, limit=limit)
    if args.json:
        print(json.dumps({"ok": True, "project": project, "database": str(h.path), "notices": list(h.notices),
                          "runs": [r.to_json() for r in runs]}, indent=2))
    else:
        print(render(project, runs))
    return 0
