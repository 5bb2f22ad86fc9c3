"""The cache report of one build: the contract's JSON (`BuildModel.to_report`) and a readable
table (state, time, bytes, name), a summary line with the hit ratio and the cache import/export
outcome, and a loud line when the import failed (a cold build)."""

from __future__ import annotations

import math
from pathlib import Path

from .errors import BadInput
from .model import NOT_IMPORTED, BuildModel

_STATE_LABEL = {"cached": "CACHED", "executed": "RAN", "error": "ERROR", "cancelled": "CANCELLED",
                "pending": "PENDING", "running": "RUNNING"}


def percent(ratio: float | None) -> str:
    """A hit ratio as the dashboard and the command line both show it: a whole percent, halves
    rounded up (5 of 8 cached: "63%"; Python's own format rounds halves to even, "62%")."""
    return f"{math.floor(round((ratio or 0.0) * 100, 6) + 0.5)}%"


MAX_LINE_BYTES = 64 << 20  # one progress line read at a time, at most (rawjson lines are far shorter)
SNIFF_BYTES = 8 << 20  # a stream that names no step in its first 8 MiB is not BuildKit progress


def load_file(path: str | Path, format: str = "auto") -> BuildModel:
    """A finished model from a recorded progress file. BadInput when missing/unreadable or when
    nothing in it is BuildKit progress."""
    p = Path(path)
    if not p.exists():
        raise BadInput(f"{p}: no such file.", fix="give the path of a recorded BuildKit progress stream", kind="missing-file")
    if p.is_dir():
        raise BadInput(f"{p} is a directory, not a progress file.", fix="give the path of a recorded BuildKit progress stream",
                       kind="unreadable-file")
    model = BuildModel(format)
    read = 0
    try:
        with p.open("rb") as fh:
            # bounded lines: a file without newlines (an image, /dev/zero) was read whole into one
            # line (2 GB in 4 s from /dev/zero, never ending); no step yet after SNIFF_BYTES: not progress
            for line in iter(lambda: fh.readline(MAX_LINE_BYTES), b""):
                model.feed_line(line)
                read += len(line)
                if read > SNIFF_BYTES and not model.vertexes:
                    break
    except OSError as exc:
        raise BadInput(f"cannot read {p}: {exc.strerror or exc}.", fix="check the path and its permissions",
                       kind="unreadable-file") from None
    if format != "auto" and not model.vertexes:
        raise BadInput(f"{p} holds no BuildKit progress in the format given with --format ({format}: "
                       f"--progress={format} lines).",
                       fix="leave out --format: auto tells rawjson from plain", kind="not-progress")
    if model.format == "auto" or not model.vertexes:
        raise BadInput(f"{p} holds no BuildKit progress (neither --progress=rawjson nor --progress=plain lines).",
                       fix="record the build with --progress=rawjson (or plain) and pass that file", kind="not-progress")
    model.finish(None)
    return model


def human_bytes(n: int | None) -> str:
    if not n:
        return "-"
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"  # pragma: no cover


def human_time(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 60:
        return f"{s:.2f}s"
    m, sec = divmod(s, 60)
    return f"{int(m)}m{sec:04.1f}s"


def outcome_text(outcomes: list[dict], what: str) -> str:
    if not outcomes:
        return f"{what}: none"
    parts = []
    for o in outcomes:
        ref = o.get("ref") or "(ref not in stream)"
        parts.append(f"{o.get('state')} {ref}")
    return f"{what}: " + ", ".join(parts)


def cold_line(report: dict) -> str | None:
    """The loud line for a failed cache import, or None."""
    failed = [o for o in report.get("cache_import", []) if o.get("state") not in ("ok", "pending")
              and o.get("detail") != NOT_IMPORTED]  # the build ended first: its error says why
    if not failed:
        return None
    sm = report.get("summary") or {}
    cached, steps = sm.get("cached") or 0, sm.get("steps") or 0
    # the builder's own local cache can still serve steps: say so rather than "every step ran"
    local = (f"{cached} of {steps} steps were cached by this builder's local cache, which a fresh CI worker "
             f"does not have") if cached else ""
    if all(o.get("state") == "not-found" for o in failed):
        refs = ", ".join(o.get("ref") or "?" for o in failed)
        line = f"COLD BUILD: no cache at {refs} yet (the normal first build); the next build can import it."
        return f"{line} Nothing came from the registry: {local}." if local else line
    o = next(o for o in failed if o.get("state") != "not-found")
    return (f"!!! COLD BUILD: cache import from {o.get('ref') or '?'} failed ({o.get('state')}): "
            f"{o.get('detail') or ''}".rstrip(": ")
            + (f" -- nothing came from the registry cache; {local}." if local
               else " -- every step ran without the registry cache."))


def export_lines(report: dict) -> list[str]:
    """One line per cache export that failed: the cache was not saved, with the failure's kind."""
    lines = []
    for o in report.get("cache_export", []):
        state = o.get("state")
        if state in ("ok", "pending", None):
            continue
        ref = o.get("ref") or "the cache ref"
        detail = " ".join(str(o.get("detail") or "").split())
        if state == "ignored-error":
            from .model import classify_cache_error

            kind = classify_cache_error(detail, export=True)
            lines.append(f"cache NOT saved to {ref}: the export failed ({kind}) and was ignored (ignore-error), "
                         f"so the build still succeeded: {detail}".rstrip(": "))
        elif detail.startswith("not exported: "):  # the build ended first: the export never ran
            lines.append(f"cache NOT saved to {ref}: {detail[len('not exported: '):]}")
        else:
            lines.append(f"cache NOT saved to {ref}: the export failed ({state}): {detail}".rstrip(": "))
    return lines


def render_table(report: dict) -> str:
    """A readable report: one row per step, then summary, cache and status lines."""
    steps = report.get("steps", [])
    rows = [("STATE", "TIME", "BYTES", "NAME")]
    for s in steps:
        label = _STATE_LABEL.get(s.get("live_state") or s.get("state"), str(s.get("state")).upper())
        if s.get("cache_inferred"):
            label += "*"
        rows.append((label, human_time(s.get("duration_s")), human_bytes(s.get("pulled_bytes")), s.get("name", "")))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    w2 = max(len(r[2]) for r in rows)
    lines = [f"{r[0]:<{w0}}  {r[1]:>{w1}}  {r[2]:>{w2}}  {r[3]}" for r in rows]
    for s in steps:
        if s.get("error") and s.get("state") == "error":
            lines.append(f"  error in {s.get('name')}: {s.get('error')}")
    whys = [s for s in steps if s.get("miss")]
    if whys:
        lines.append("")
        lines.append("why each step ran:")
        # a step that ran only because an earlier one did says nothing new: counted, as `history` does
        followers = [s for s in whys if s["miss"].get("kind") == "parent-missed"]
        for s in whys:
            miss = s["miss"]
            if s not in followers:
                lines.append(f"  {s.get('name')}: {miss.get('kind')}: {miss.get('detail', '')}")
        if followers:
            n = len(followers)
            lines.append(f"  + {n} later step{'s' if n != 1 else ''} re-ran because an earlier step did (parent-missed)")
    sm = report.get("summary", {})
    lines.append("")
    lines.append(
        f"{sm.get('steps', 0)} steps: {sm.get('cached', 0)} cached, {sm.get('executed', 0)} executed, "
        f"{sm.get('errors', 0)} errors; hit ratio {percent(sm.get('hit_ratio'))}; "
        + outcome_text(report.get("cache_import", []), "import") + "; "
        + outcome_text(report.get("cache_export", []), "export")
    )
    if report.get("root_misses"):
        lines.append("cache broke at: " + "; ".join(report["root_misses"]))
    loud = cold_line(report)
    if loud:
        lines.append(loud)
    lines.extend(export_lines(report))
    if any(s.get("cache_inferred") for s in steps):
        lines.append("* plain progress: pulled from the registry cache (layer downloads, no output), shown as cached")
    status = report.get("status", "?")
    tail = f"build: {status}"
    error = report.get("error")
    if isinstance(error, dict):  # `build --json`'s error object (kind, message)
        error = error.get("message")
    if error and status != "success":
        tail += f": {error}"
    lines.append(tail)
    return "\n".join(lines)
