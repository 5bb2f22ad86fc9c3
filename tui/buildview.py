"""Reading a BuildModel for display: step states as badges, times, sizes, timeline bars, and
the words for the cache import/export outcome. Pure functions, no widgets, easy to test."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

from railpack_tui.core.model import NOT_IMPORTED, classify_cache_error

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

# normalised state -> badge text
BADGES = {
    "cached": "CACHED",
    "running": "RUNNING",
    "done": "DONE",
    "error": "ERROR",
    "canceled": "CANCELED",
    "pending": "WAIT",
}
# normalised state -> theme colour name
STATE_COLOURS = {
    "cached": "success",
    "running": "warning",
    "done": "secondary",
    "error": "error",
    "canceled": "warning",
    "pending": "foreground",
}

_ALIASES = {
    "cached": "cached", "executed": "done", "done": "done", "completed": "done", "success": "done",
    "running": "running", "started": "running", "error": "error", "failed": "error",
    "cancelled": "canceled", "canceled": "canceled", "pending": "pending", "waiting": "pending",
}


def ts(value: Any) -> float | None:
    """A timestamp as epoch seconds, from a float, a datetime or an RFC 3339 string."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        head, _, frac = text.partition(".")
        if frac:  # datetime wants at most 6 fractional digits
            digits = "".join(ch for ch in frac if ch.isdigit())
            tz = frac[len(digits):]
            text = f"{head}.{digits[:6]}{tz}"
        try:
            return datetime.fromisoformat(text).timestamp()
        except ValueError:
            return None
    return None


def state_of(step: Any) -> str:
    """The normalised state of a step: cached, running, done, error, canceled, pending."""
    raw = str(getattr(step, "state", "") or "").lower()
    state = _ALIASES.get(raw)
    if state is None or state == "pending":
        started, completed = ts(getattr(step, "started", None)), ts(getattr(step, "completed", None))
        if started is not None and completed is None:
            return "running"
        if state is None and completed is not None:
            return "done"
        return "pending"
    return state


def spinner(now: float) -> str:
    return SPINNER[int(now * 10) % len(SPINNER)]


def step_duration(step: Any, now: float) -> float | None:
    """Seconds the step took (or has taken so far while it runs)."""
    d = getattr(step, "duration_s", None)
    if isinstance(d, (int, float)) and state_of(step) != "running":
        return float(d)
    started = ts(getattr(step, "started", None))
    if started is None:
        return None
    end = ts(getattr(step, "completed", None))
    return max(0.0, (end if end is not None else now) - started)


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    m, s = divmod(int(round(seconds)), 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


def fmt_bytes(n: int | float | None) -> str:
    if not n:
        return ""
    n = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f}{unit}" if unit == "B" or n >= 100 else f"{n:.1f}{unit}"
        n /= 1000
    return ""


def wall_range(steps: Iterable[Any], now: float) -> tuple[float, float] | None:
    """First start and last end (now for steps still running) over `steps`, or None."""
    starts, ends = [], []
    for step in steps:
        s = ts(getattr(step, "started", None))
        if s is None:
            continue
        starts.append(s)
        e = ts(getattr(step, "completed", None))
        ends.append(e if e is not None else max(s, now))
    if not starts:
        return None
    t0, t1 = min(starts), max(ends)
    if any(ts(getattr(s, "completed", None)) is None and ts(getattr(s, "started", None)) is not None for s in steps):
        # still running: round the end up to a coarse grid so the bars do not shift on every frame
        span = max(t1 - t0, 1e-3)
        quantum = max(0.5, 2.0 ** math.ceil(math.log2(span / 8)))
        t1 = t0 + math.ceil(span / quantum) * quantum
    return t0, t1


def bar_span(step: Any, wall: tuple[float, float] | None, width: int, now: float) -> tuple[int, int] | None:
    """Columns [start, end) of a step's bar on a timeline `width` cells wide over `wall`."""
    if wall is None or width <= 0:
        return None
    s = ts(getattr(step, "started", None))
    if s is None:
        return None
    e = ts(getattr(step, "completed", None))
    e = e if e is not None else max(s, now)
    t0, t1 = wall
    span = max(t1 - t0, 1e-9)
    start = min(width - 1, max(0, int((s - t0) / span * width)))
    end = min(width, max(start + 1, math.ceil((e - t0) / span * width)))
    return start, end


def miss_text(miss: Any, short: bool = False) -> str:
    """One line for a step's miss explanation (an object or dict with kind, detail, files).
    `short` (the table column) prefers the files that changed over the sentence."""
    if not miss:
        return ""
    get = (lambda k: miss.get(k)) if isinstance(miss, dict) else (lambda k: getattr(miss, k, None))
    kind = str(get("kind") or "").replace("-", " ")
    detail = " ".join(str(get("detail") or "").split())
    files = [str(f) for f in (get("files") or [])]
    shown = ", ".join(files[:3]) + (f" +{len(files) - 3}" if len(files) > 3 else "")
    body = shown if files and (short or not detail) else detail
    if body:
        return f"{kind}: {body}" if kind else body
    return kind


# --- cache import / export ------------------------------------------------------------------

OUTCOME_WORDS = {
    "ok": "ok",
    "not-found": "empty ref (first build)",
    "unauthorized": "401 unauthorized",
    "forbidden": "403 forbidden",
    "unreachable": "registry unreachable",
    "error": "failed",
    "ignored-error": "failed (ignored)",
    "running": "running",
    "pending": "waiting",
    "not-reached": "not reached (the build stopped first)",
}

def outcome_words(outcome: Any, state: str) -> str:
    """What a cache import/export outcome line says; an ignored export failure names its kind."""
    if state == "ignored-error":
        kind = classify_cache_error(getattr(outcome, "detail", "") or "", export=True)
        return f"not saved: {OUTCOME_WORDS.get(kind, kind)} (ignored)"
    return OUTCOME_WORDS.get(state, state)


IMPORT_FIXES = {
    "unauthorized": "save working credentials for {ref} (Registries, key 3)",
    "forbidden": "the account cannot read {ref}: use credentials with pull rights",
    "unreachable": "start the registry (`railpack-tui sandbox up`) or check the host and port in {ref}",
    "error": "test the registry (t) to see which check fails",
}


def outcomes(model: Any, which: str) -> list[Any]:
    value = getattr(model, which, None) if model is not None else None
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def outcome_state(outcome: Any) -> str:
    return str(getattr(outcome, "state", "") or "pending")


def not_reached(outcome: Any) -> bool:
    """A cache import the build never reached (it ended first, e.g. a Dockerfile error)."""
    return getattr(outcome, "detail", None) == NOT_IMPORTED


def import_failure(model: Any) -> tuple[Any, str] | None:
    """The first failed cache import (not an empty ref, not one the build never reached) and its
    fix, or None."""
    for o in outcomes(model, "cache_import"):
        state = outcome_state(o)
        if state in ("ok", "not-found", "running", "pending", "") or not_reached(o):
            continue
        ref = getattr(o, "ref", "") or "the cache ref"
        fix = IMPORT_FIXES.get(state, IMPORT_FIXES["error"]).format(ref=ref)
        return o, fix
    return None


def first_build(model: Any) -> bool:
    """True when every cache import found an empty ref: the normal first build, not a problem."""
    imports = outcomes(model, "cache_import")
    return bool(imports) and all(outcome_state(o) == "not-found" for o in imports)


def short_detail(detail: str, limit: int = 90) -> str:
    """The useful tail of a BuildKit error (they nest `a: b: c: 401 Unauthorized`)."""
    detail = " ".join(str(detail or "").split())
    if len(detail) <= limit:
        return detail
    return "…" + detail[-(limit - 1):]


# --- reading a model that a worker thread may be feeding ------------------------------------

def _retry(fn, default):
    """Call `fn`; a dict/deque mutated by the feeding thread mid-read gets a second and third try."""
    for _ in range(3):
        try:
            return fn()
        except RuntimeError:
            continue
        except Exception:
            return default
    return default


@dataclass
class Snapshot:
    """What the Build screen shows, read from the model at one moment (on the UI thread while the
    worker waits, or from a finished model). Steps are the model's own objects: their scalar
    fields are read later without harm; their logs are read only through `new_log_lines`."""

    steps: list = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    cache_import: list = field(default_factory=list)
    cache_export: list = field(default_factory=list)
    root_misses: list = field(default_factory=list)
    status: str = "idle"
    error: str | None = None
    warnings: list = field(default_factory=list)
    first_time: float | None = None
    last_time: float | None = None

    @classmethod
    def take(cls, model: Any) -> "Snapshot":
        if model is None:
            return cls()
        steps = _retry(lambda: list(model.steps), [])
        vertexes = _retry(lambda: list(model.vertexes), steps)
        warnings: list[str] = []
        for v in vertexes:
            for w in list(getattr(v, "warnings", None) or []):
                short = (w.get("short") if isinstance(w, dict) else str(w)) or ""
                short = " ".join(short.split())
                if short and short not in warnings:
                    warnings.append(short)
        return cls(
            steps=steps,
            summary=_retry(model.summary, {}),
            cache_import=_retry(lambda: list(model.cache_import), []),
            cache_export=_retry(lambda: list(model.cache_export), []),
            root_misses=_retry(lambda: list(model.root_misses()), []),
            status=str(getattr(model, "status", "running") or "running"),
            error=getattr(model, "error", None),
            warnings=warnings,
            first_time=getattr(model, "first_time", None),
            last_time=getattr(model, "last_time", None),
        )


def new_log_lines(buf: Any, written: int) -> tuple[list[str], int, bool]:
    """Lines of a step's LogBuffer not yet shown, given `written` complete lines already shown.
    Returns (lines, complete lines now shown, reset) where reset means: clear, then show `lines`."""
    if buf is None:
        return [], 0, written != 0
    # a worker may be appending: copy until the line count did not move during the copy
    for _ in range(5):
        total = int(getattr(buf, "total_lines", 0))
        if total == written:
            return [], written, False
        head = _retry(lambda: list(buf.head), [])
        tail = _retry(lambda: list(buf.tail), [])
        if int(getattr(buf, "total_lines", 0)) == total:
            break
    decode = lambda b: b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b)  # noqa: E731
    k = total - written
    if written < total and not getattr(buf, "dropped", 0) and len(head) + len(tail) == total:
        kept = head + tail
        return [decode(b) for b in kept[written:]], total, False
    if 0 < k <= len(tail) and written >= len(head):
        return [decode(b) for b in tail[-k:]], total, False
    lines = [decode(b) for b in head]
    dropped = getattr(buf, "dropped", 0)
    if dropped:
        lines.append(f"… {dropped} lines not kept …")
    lines.extend(decode(b) for b in tail)
    return lines, total, True
