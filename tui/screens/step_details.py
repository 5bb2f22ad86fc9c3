"""Enter on a step: everything about it (state, times, bytes pulled, why it ran, its error,
warnings, full logs). Esc goes back."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Log, Static

from .. import buildview as bv


def describe(step: Any, now: float) -> Text:
    state = bv.state_of(step)
    text = Text()
    text.append(f"{bv.BADGES[state]}  ", style="bold")
    text.append(str(getattr(step, "name", "")), style="bold")
    rows = [
        ("Stage", " ".join(str(x) for x in (getattr(step, "stage", None) or "",
                                              f"{step.index}/{step.total}" if getattr(step, "index", None) else "") if x)),
        ("Time", bv.fmt_duration(bv.step_duration(step, now)) if state != "cached" else ""),
        ("Pulled", bv.fmt_bytes(getattr(step, "pulled_bytes", 0))),
        ("Why it ran", bv.miss_text(getattr(step, "miss", None)) if state not in ("cached", "pending") else ""),
        ("Error", bv.short_detail(getattr(step, "error", None) or "", 400)),
        ("Vertex", str(getattr(step, "id", "") or "")),
    ]
    miss = getattr(step, "miss", None)
    files = (miss.get("files") if isinstance(miss, dict) else getattr(miss, "files", None)) if miss else None
    if files:
        rows.insert(4, ("Files", ", ".join(str(f) for f in list(files)[:12])))
    for w in getattr(step, "warnings", None) or []:
        rows.append(("Warning", (w.get("short") if isinstance(w, dict) else str(w)) or ""))
    if state == "cached":
        rows.insert(3, ("Cache", "hit: BuildKit reused this step's result and did not run it"))
    for label, value in rows:
        if value:
            text.append(f"\n{label:>10}  ", style="bold dim")
            text.append(value)
    return text


class StepDetailsScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "close", "Back"), Binding("q", "close", "Back", show=False)]

    def __init__(self, step: Any, now: float) -> None:
        super().__init__()
        self.step = step
        self.now = now

    def compose(self) -> ComposeResult:
        with Vertical(id="details-body"):
            yield Static(describe(self.step, self.now), id="details-info")
            yield Log(id="details-logs", highlight=False)

    def on_mount(self) -> None:
        log = self.query_one("#details-logs", Log)
        log.border_title = "Logs"
        lines, _, _ = bv.new_log_lines(getattr(self.step, "logs", None), 0)
        log.write_lines(lines or ["(no output)"])
        self.query_one("#details-body").border_title = "Step"
        self.query_one("#details-body").border_subtitle = "esc back"

    def action_close(self) -> None:
        self.dismiss(None)
