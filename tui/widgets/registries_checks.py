"""A registry test, live: one row per check (resolve .. cache) with its result and time, filled in
as the worker reports each one, the failed check's fix, and what the cache holds."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from railpack_tui.core.report import human_bytes  # the units the check details and the CLI use

CHECK_NAMES = ("resolve", "connect", "tls", "ping", "auth", "pull", "push", "cache")
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def human_duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def result_cell(check: Any) -> Text:
    if check.skipped:
        return Text("– skipped", style="dim")
    if check.ok:
        return Text("✓ ok", style="bold green")
    kind = (check.kind or "error").upper()
    return Text(f"✗ {kind}", style="bold red")


class RegistryChecks(Vertical):
    """The checks table, the fix for a failure, and the cache summary."""

    DEFAULT_CSS = """
    RegistryChecks { height: 1fr; overflow-y: auto; }
    RegistryChecks #checks-heading { height: auto; padding: 0 1; }
    RegistryChecks #checks-table { height: auto; overflow-x: hidden; }
    RegistryChecks #checks-fix { height: auto; padding: 0 1; color: $warning; }
    RegistryChecks #checks-cache { height: auto; padding: 0 1; margin-top: 1; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.checks: dict[str, Any] = {}
        self.running = False
        self._frame = 0

    def compose(self) -> ComposeResult:
        yield Static("Select a cache ref and press [b]t[/b] to test it.", id="checks-heading")
        table: DataTable = DataTable(id="checks-table", cursor_type="row", zebra_stripes=False)
        table.add_column("Check", key="name", width=8)
        table.add_column("Result", key="result", width=16)
        table.add_column("Time", key="time", width=8)
        table.add_column("Detail", key="detail")
        yield table
        yield Static("", id="checks-fix")
        yield Static("", id="checks-cache")

    def on_mount(self) -> None:
        self._clear_notes()
        self.set_interval(0.1, self._spin, pause=False)

    def on_resize(self) -> None:
        self._render_rows()

    def _detail_width(self) -> int:
        # Check 8 + Result 16 + Time 8, each with 2 cells of padding, and the scrollbar gutter
        return max(16, self.content_region.width - 8 - 16 - 8 - 8 - 2)

    def _detail(self, check: Any) -> Text:
        text = Text(check.detail, style="dim" if check.skipped else "", no_wrap=True)
        text.truncate(self._detail_width(), overflow="ellipsis")
        return text

    # -- updates ----------------------------------------------------------------------------------
    def start(self, ref: str, who: str) -> None:
        """A test of `ref` began: every check waits, the first one spins."""
        self.checks = {}
        self.running = True
        self.query_one("#checks-heading", Static).update(Text.assemble(("Testing ", "bold"), (ref, "bold"), f"  {who}"))
        self._clear_notes()
        self._render_rows()

    def idle(self, ref: str) -> None:
        """`ref` is selected but has not been tested in this session."""
        self.checks = {}
        self.running = False
        self.query_one("#checks-heading", Static).update(
            Text.assemble((ref, "bold"), "\nnot tested yet: press ", ("t", "bold"), " to run the checks"))
        self._clear_notes()
        self._render_rows()

    def saved_login(self, host: str, username: str) -> None:
        """A saved login (`registry login HOST`) without a cache ref on it is selected."""
        self.checks = {}
        self.running = False
        self.query_one("#checks-heading", Static).update(
            Text.assemble((host, "bold"), f"  saved login for {username}\nno cache ref on it yet: press ",
                          ("e", "bold"), " to add one, then ", ("t", "bold"), " to test it"))
        self._clear_notes()
        self._render_rows()

    def _clear_notes(self) -> None:
        for note in ("#checks-fix", "#checks-cache"):
            widget = self.query_one(note, Static)
            widget.update("")
            widget.display = False

    def add_check(self, check: Any) -> None:
        self.checks[check.name] = check
        self._render_rows()

    def finish(self, result: Any = None, error: str | None = None) -> None:
        self.running = False
        heading = self.query_one("#checks-heading", Static)
        fix = self.query_one("#checks-fix", Static)
        if error is not None:
            heading.update(Text.assemble(("✗ ", "bold red"), error))
            self._render_rows()
            return
        for check in getattr(result, "checks", []):
            self.checks[check.name] = check
        self._render_rows()
        ok = bool(getattr(result, "ok", False))
        if getattr(result, "cancelled", False):
            badge = Text(" STOPPED ", style="bold reverse yellow")
        elif ok:
            badge = Text(" ALL CHECKS PASSED ", style="bold reverse green")
        else:
            badge = Text(" FAILED ", style="bold reverse red")
        extra = []
        if getattr(result, "scheme", None):
            extra.append(result.scheme.upper())
        if getattr(result, "auth_scheme", None):
            extra.append(f"auth {result.auth_scheme}")
        if getattr(result, "username", None):
            extra.append(f"as {result.username}")
        heading.update(Text.assemble(badge, "  ", (str(result.ref), "bold"), ("  " + " · ".join(extra)) if extra else ""))
        failed = getattr(result, "failed", None)
        if failed is not None:
            fix.update(Text.assemble((f"✗ {failed.name}: ", "bold red"), failed.detail,
                                     *((("\nFix: ", "bold"), failed.fix) if failed.fix else ())))
        else:
            fix.update("")
        fix.display = failed is not None
        cache = self.query_one("#checks-cache", Static)
        cache.update(self._cache_text(result))
        cache.display = True

    @staticmethod
    def _cache_text(result: Any) -> Text:
        cache = getattr(result, "cache", None)
        text = Text.assemble(("What the cache holds: ", "bold"))
        checks = {c.name: c for c in getattr(result, "checks", [])}
        pull = checks.get("pull")
        if cache is None or pull is None or (not pull.ok):
            text.append("unknown: the registry could not be read", style="dim")
            return text
        if not cache.present:
            text.append("nothing yet: no cache manifest at this ref; the first build that exports will create it", style="dim")
            return text
        text.append(f"{cache.layers} layers", style="bold")
        text.append(" · ")
        text.append(human_bytes(cache.size_bytes), style="bold")
        text.append(f" · {cache.records} records · updated ")
        text.append(cache.updated or "unknown", style="bold")
        if cache.form:
            text.append(f" · {cache.form} form", style="dim")
        return text

    # -- rendering ----------------------------------------------------------------------------------
    def _spin(self) -> None:
        if self.running:
            self._frame = (self._frame + 1) % len(SPINNER)
            self._render_rows()

    def _render_rows(self) -> None:
        table = self.query_one("#checks-table", DataTable)
        table.clear()
        waiting_marked = False
        for name in CHECK_NAMES:
            check = self.checks.get(name)
            if check is not None:
                table.add_row(name, result_cell(check), "" if check.skipped else human_duration(check.duration_s),
                              self._detail(check), key=name)
            elif self.running and not waiting_marked:
                waiting_marked = True
                table.add_row(name, Text(f"{SPINNER[self._frame]} running", style="bold yellow"), "", "", key=name)
            elif self.running:
                table.add_row(name, Text("· waiting", style="dim"), "", "", key=name)
