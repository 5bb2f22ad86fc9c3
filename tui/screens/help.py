"""`?`: the keys everywhere and those of the screen it is opened on, and what the dashboard
shows. Esc, q or ? closes it."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

EVERYWHERE = [
    ("1 2 3 4", "Build, Projects, Registries, History"),
    ("b", "build the current project with its cache ref"),
    ("r", "rebuild with the same settings"),
    ("c", "cancel the running build"),
    ("t", "test the cache ref's registry (on Registries)"),
    ("T", "next theme: dark, light, high contrast (remembered)"),
    ("ctrl+p", "command palette: every action"),
    ("?  q", "this help · quit"),
]
BUILD = [
    ("↑ ↓", "select a step: its logs follow below"),
    ("enter", "the step's details: why it ran, error, full logs"),
    ("/", "filter steps by words or state (cached, running, error)"),
    ("tab", "next pane (steps, logs)"),
    ("y", "copy the equivalent command line (for CI)"),
    ("a", "build args for the next build (NAME=VALUE, one a line)"),
    ("esc", "back: close, clear the filter, follow the running step"),
]
PROJECTS = [
    ("/", "type a path (→ completes a directory), enter opens it"),
    ("enter  o", "open the directory highlighted in the tree"),
    ("e", "edit the cache ref and builder for the project"),
    ("a", "build args for the project's next build (NAME=VALUE)"),
    ("ctrl+r", "detect the Dockerfile or Railpack app again"),
    ("p", "Railpack plan: run `railpack prepare` (a Railpack app)"),
    ("esc", "back to the tree"),
]
REGISTRIES = [
    ("a", "add a cache ref, with its username and password"),
    ("e  enter", "edit the selected ref (on a saved login: add a ref on it)"),
    ("t", "test it: resolve, connect, TLS, auth, pull, push, cache"),
    ("u", "use it for the project"),
    ("d", "remove it from the list (on a saved login: its password)"),
    ("esc", "stop a running test"),
]
HISTORY = [
    ("↑ ↓", "select a build"),
    ("enter", "compare it with the build before, or with the marked one"),
    ("space", "mark a build to compare with"),
    ("ctrl+r", "read the history again"),
    ("s  f", "in a compare: swap A and B · only the steps that differ"),
]
# the section for the screen help is opened on (by its class name)
SECTIONS = {"BuildScreen": ("Build screen", BUILD), "ProjectsScreen": ("Projects screen", PROJECTS),
            "RegistriesScreen": ("Registries screen", REGISTRIES), "HistoryScreen": ("History screen", HISTORY),
            "CompareScreen": ("History screen", HISTORY)}
NOTES = (
    ("States  ", "CACHED did not run, its result came from a cache · RUNNING · DONE ran (a miss) · "
                 "ERROR · CANCELED · WAIT not started yet"),
    ("Pulled  ", "bytes of layers pulled from the registry cache for the step"),
    ("Cold    ", "when the cache import fails (bad credentials, unreachable registry) BuildKit builds "
                 "everything and still succeeds: a red banner says so. An empty ref on a first build is "
                 "normal and says so quietly."),
)


def help_text(screen: str = "BuildScreen") -> Table:
    """The help for the screen class named `screen` (the Build screen's for any other)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True, min_width=9)
    grid.add_column()
    grid.add_row(Text("railpack-tui", style="bold"), Text("every step's cache hit or miss, and why", style="dim"))
    for title, rows in (("Everywhere", EVERYWHERE), SECTIONS.get(screen, SECTIONS["BuildScreen"])):
        grid.add_row("", "")
        grid.add_row(Text(title, style="bold underline"), "")
        for key, what in rows:
            grid.add_row(key, what)
    grid.add_row("", "")
    for label, what in NOTES:
        grid.add_row(label.strip(), what)
    return grid


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
        Binding("question_mark", "dismiss", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        below = next((s for s in reversed(self.app.screen_stack) if s is not self), None)
        with VerticalScroll(id="help-body"):
            yield Static(help_text(type(below).__name__))

    def on_mount(self) -> None:
        body = self.query_one("#help-body")
        body.border_title = "Help"
        body.border_subtitle = "esc closes"

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
