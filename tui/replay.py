"""Replaying a recorded progress stream into a BuildModel: for stable snapshot tests, demos and
screenshots of states that are hard to catch live (mid-build, a failed import)."""

from __future__ import annotations

from pathlib import Path

from railpack_tui.core.model import BuildModel


def replay(path: str | Path, upto: int | None = None, *, finish: bool = True, returncode: int | None = None,
           import_refs: list[str] | None = None, export_refs: list[str] | None = None) -> BuildModel:
    """Feed the first `upto` lines of `path` (all by default) into a new model; finish it unless
    stopped mid-stream (`upto` given and `finish` False gives a build still running)."""
    model = BuildModel()
    if import_refs or export_refs:
        model.expect_cache(import_refs=import_refs or [], export_refs=export_refs or [])
    with open(path, encoding="utf-8", errors="replace") as fh:
        for i, line in enumerate(fh):
            if upto is not None and i >= upto:
                break
            model.feed_line(line.rstrip("\n"))
    if finish:
        model.finish(returncode)
    model.drain_changes()
    return model
