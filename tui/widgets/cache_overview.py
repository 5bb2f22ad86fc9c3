"""The Build screen's cache overview: the build's status line, the hit-ratio meter, the cache
import and export phases with their outcome, where the cache broke (root misses), warnings, and
the red banner of a cold build whose cache import failed."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from railpack_tui.core.report import percent

from .. import buildview as bv
from .one_layout import OneLayout

STATUS_WORDS = {
    "running": "RUNNING", "success": "SUCCESS", "failed": "FAILED", "cancelled": "CANCELLED",
    "incomplete": "INCOMPLETE", "error": "ERROR", "idle": "NO BUILD YET",
}
STATUS_COLOURS = {"running": "warning", "success": "success", "failed": "error", "cancelled": "warning",
                  "incomplete": "warning", "error": "error", "idle": "primary"}
PHASE_MARKS = {"ok": "✓", "not-found": "○", "running": "●", "pending": "·", "ignored-error": "!", "not-reached": "–"}


def set_text(widget: Static, text: Text, layout: bool = True) -> None:
    """Update a Static only when what it shows changed (an update refreshes the screen's layout
    unless `layout` is False, which is right for widgets of a fixed height)."""
    sig = (text.plain, str(text.style), tuple(text.spans))
    if getattr(widget, "_shown_sig", None) == sig:
        return
    widget._shown_sig = sig  # type: ignore[attr-defined]
    widget.update(text, layout=layout)


def _theme_colour(widget: Static, name: str) -> str:
    theme = widget.app.current_theme
    return getattr(theme, name, None) or theme.foreground or "white"


class HitMeter(OneLayout, Static):
    """`Cache hits ██████░░░░ 4/6 steps 67%`: cached steps over all steps so far."""

    DEFAULT_CSS = "HitMeter { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }"

    _counts: tuple[int, int] = (0, 0)

    def show(self, summary: dict) -> None:
        summary = summary or {}
        self._counts = (int(summary.get("steps", 0)), int(summary.get("cached", 0)))
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        total, cached = self._counts
        width = max(6, min(30, self.size.width - 30)) if self.size.width else 20
        ratio = cached / total if total else 0.0
        filled = round(ratio * width)
        ok = _theme_colour(self, "success")
        text = Text()
        text.append("Cache hits ", style="bold")
        text.append("█" * filled, style=ok)
        text.append("░" * (width - filled), style="dim")
        if total:
            text.append(f" {cached}/{total} steps ", style="bold")
            text.append(percent(ratio), style=f"bold {ok}" if ratio >= 0.5 else "bold")
        else:
            text.append(" no steps yet", style="dim")
        set_text(self, text, layout=False)


class CachePhases(OneLayout, Static):
    """One line per cache import and export: outcome mark, words, ref."""

    DEFAULT_CSS = "CachePhases { height: auto; }"

    def show(self, model: Any, import_enabled: bool = True, export_enabled: bool = True, ref: str | None = None) -> None:
        text = Text()
        for label, which, enabled in (("Import", "cache_import", import_enabled), ("Export", "cache_export", export_enabled)):
            if text:
                text.append("\n")
            text.append(f"{label} ", style="bold")
            items = bv.outcomes(model, which)
            if not items:
                if not enabled or not ref:
                    text.append("off", style="dim")
                else:
                    running = model is not None and getattr(model, "status", "") == "running"
                    text.append("· waiting" if running else "on", style="dim")
                    text.append(f"  {ref}", style="dim")
                continue
            for i, o in enumerate(items):
                if i:
                    text.append("\n       ")
                state = bv.outcome_state(o)
                if state == "error" and getattr(o, "vertex", "") is None and label == "Export" \
                        and getattr(model, "status", "") in ("cancelled", "failed", "incomplete"):
                    state = "not-reached"  # the build ended before its export: not an export failure
                elif label == "Import" and bv.not_reached(o):
                    state = "not-reached"  # the build ended before its import: not an import failure
                good = state == "ok"
                mild = state in ("not-found", "running", "pending", "ignored-error", "not-reached")
                colour = _theme_colour(self, "success" if good else ("warning" if mild else "error"))
                text.append(f"{PHASE_MARKS.get(state, '✗')} {bv.outcome_words(o, state)}", style=f"bold {colour}")
                ref_text = getattr(o, "ref", "") or ""
                if ref_text:
                    text.append(f"  {ref_text}", style="dim")
        set_text(self, text)


class RootMisses(OneLayout, Static):
    """Where the cache broke: executed steps none of whose ancestors executed."""

    DEFAULT_CSS = "RootMisses { height: auto; }"

    def show(self, root_misses: list) -> None:
        names = [str(getattr(n, "name", n)) for n in root_misses or []]
        if not names:
            self.display = False
            return
        self.display = True
        text = Text()
        text.append("Cache broke at ", style="bold")
        text.append(names[0], style=_theme_colour(self, "warning"))
        if len(names) > 1:
            text.append(f"  (+{len(names) - 1} more: {', '.join(names[1:3])})", style="dim")
        set_text(self, text)


class BuildStatus(OneLayout, Static):
    """`● RUNNING 12.3s · 3/6 steps · cache-demo · buildkit` on one line."""

    DEFAULT_CSS = "BuildStatus { height: 1; }"

    def show(self, status: str, elapsed: float | None, done: int, total: int, context: str, now: float) -> None:
        colour = _theme_colour(self, STATUS_COLOURS.get(status, "primary"))
        mark = bv.spinner(now) if status == "running" else "●"
        text = Text()
        text.append(f"{mark} {STATUS_WORDS.get(status, status.upper())}", style=f"bold {colour}")
        if elapsed is not None:
            text.append(f"  {bv.fmt_duration(elapsed)}")
        if total:
            text.append(f" · {done}/{total} steps", style="")
        if context:
            text.append(f" · {context}", style="dim")
        set_text(self, text, layout=False)


class ColdBanner(OneLayout, Static):
    """Red, bold, boxed: this build is cold because the cache import failed. A quiet line instead
    for the normal first build into an empty ref. Hidden otherwise."""

    def show(self, model: Any) -> None:
        failure = bv.import_failure(model)
        self.set_class(failure is None, "-first-build")
        if failure is None:
            if bv.first_build(model):
                set_text(self, Text.assemble(("First build for this cache ref", "bold"),
                                          ": the ref is empty, so nothing comes from the registry; the export fills it for next time."))
                self.display = True
            else:
                self.display = False
            return
        outcome, fix = failure
        state = bv.outcome_state(outcome)
        reason = bv.OUTCOME_WORDS.get(state, state)
        detail = bv.short_detail(getattr(outcome, "detail", "") or "")
        if state == "unauthorized":
            reason = "401 Unauthorized"
        text = Text()
        text.append(" THIS BUILD IS COLD ", style="bold reverse")
        text.append(f" the cache import failed: {reason}", style="bold")
        if detail and reason.lower() not in detail.lower()[-40:]:
            text.append(f" ({detail})")
        text.append(f"\nNothing comes from the registry: every step not in this builder's local cache runs. Fix: {fix}")
        set_text(self, text)
        self.display = True


class WarningsPanel(OneLayout, Static):
    """The build's warnings (BuildKit lint and deprecation notes), a few lines at most."""

    DEFAULT_CSS = "WarningsPanel { height: auto; max-height: 4; }"

    def show(self, warnings: list[str]) -> None:
        seen = list(warnings or [])
        if not seen:
            self.display = False
            return
        self.display = True
        colour = _theme_colour(self, "warning")
        text = Text()
        text.append(f"⚠ {len(seen)} warning{'s' if len(seen) != 1 else ''}: ", style=f"bold {colour}")
        text.append(seen[0])
        for extra in seen[1:3]:
            text.append(f"\n  {extra}")
        if len(seen) > 3:
            text.append(f"\n  … {len(seen) - 3} more (Enter on a step shows its own)", style="dim")
        set_text(self, text)
