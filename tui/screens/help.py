"""`?`: the keys, and what the dashboard shows. Esc, q or ? closes it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# railpack-tui

Builds with a shared registry layer cache: every step's hit or miss, and why.

| Key | Everywhere |
|---|---|
| `1` `2` `3` `4` | Build, Projects, Registries, History |
| `b` | build the current project with its cache ref |
| `r` | rebuild with the same settings |
| `c` | cancel the running build |
| `t` | test the cache ref's registry (on Registries) |
| `T` | next theme (dark, light, high contrast; remembered) |
| `ctrl+p` | command palette: every action |
| `?` | this help · `q` quit |

| Key | Build screen |
|---|---|
| `↑` `↓` | select a step: its logs follow below |
| `enter` | the step's details (miss reason, error, full logs) |
| `/` | filter steps by name or state (`cached`, `run`, `error`) |
| `tab` | next pane (steps, logs) |
| `y` | copy the equivalent command line |
| `esc` | back / clear the filter |

**States**: `CACHED` the step did not run, its result came from a cache ·
`RUNNING` · `DONE` it ran (a cache miss) · `ERROR` · `CANCELED` · `WAIT` not started.

**Pulled** is the bytes of layers pulled from the registry cache for a step.
**Cold**: when the cache import fails (bad credentials, unreachable registry) BuildKit builds
everything from scratch and still succeeds: the red banner says so. An empty ref on the first
build is normal and says *first build*.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
        Binding("question_mark", "dismiss", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(HELP)

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
