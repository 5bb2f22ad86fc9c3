"""`a` on Build and Projects, or "Set build args…" in the command palette: the build args of the
next build (the CLI's `--build-arg NAME=VALUE`), one NAME=VALUE a line. A line is checked with the
rule `railpack-tui build` applies (core.runner.check_build_arg_names); a bad one is refused with
its line number and the fix, and nothing changes until every line is right. Ctrl+S or Save
returns the args (the app puts them in its state, which remembers them for the project); Esc or
Cancel returns None. Values are only ever shown in the editor: never in a message or a log."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static, TextArea

from railpack_tui.core.errors import BadInput, RailpackTuiError

LINE_FIX = "write it as NAME=VALUE (NAME= for an empty value)"


def parse_build_args(text: str) -> dict[str, str]:
    """{name: value} from NAME=VALUE lines (blank lines skipped; the value is everything after the
    first `=`, kept as typed). BadInput names the first bad line and how to write it."""
    from railpack_tui.core import masking
    from railpack_tui.core.runner import check_build_arg_names

    args: dict[str, str] = {}
    where: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if "=" not in line:
            raise BadInput(f"Line {number} ({line.strip()!r}) has no value.", fix=LINE_FIX)
        name, value = line.split("=", 1)
        try:
            check_build_arg_names([name])
        except BadInput as exc:
            raise BadInput(f"Line {number}: {exc.message}",
                           fix="a name has no spaces (none around the =) and is not empty: " + LINE_FIX) from None
        if name in where:
            raise BadInput(f"Line {number}: {name} is already set on line {where[name]}.", fix="keep one of the two lines")
        if masking.known().holds_secret(value):
            raise BadInput(f"Line {number}: {name} holds the password of a registry this app builds with.",
                           fix="pass secrets as BuildKit secrets (RUN --mount=type=secret), never as build args: "
                               "they are kept in settings and in the image's metadata")
        where[name] = number
        args[name] = value
    return args


def declared_args(project: Path | None) -> list[str] | None:
    """The ARG names the project's Dockerfile declares, in order; None when there is no Dockerfile
    to read (a Railpack app, a project gone): the editor works without the hint."""
    if project is None:
        return None
    from railpack_tui.core import dockerfile

    try:
        df = dockerfile.load(Path(project) / "Dockerfile")
    except (RailpackTuiError, OSError, ValueError):
        return None
    names = [name for name, _ in df.global_args] + [n for stage in df.stages for n in stage.declared_args()]
    return list(dict.fromkeys(names))


class BuildArgsScreen(ModalScreen[dict[str, str] | None]):
    CSS_PATH = "build_args.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "save", "Save")]

    def __init__(self, build_args: dict[str, str], project: Path | None = None) -> None:
        super().__init__()
        self.initial = dict(build_args)
        self.project = Path(project) if project is not None else None

    def compose(self) -> ComposeResult:
        with Vertical(id="args-form") as form:
            form.border_title = "Build args"
            form.border_subtitle = "ctrl+s saves · esc cancels"
            for_whom = f" of {self.project.name}" if self.project is not None else ""
            yield Static(f"One NAME=VALUE a line, for the next build{for_whom} (--build-arg). "
                         "A changed value makes the steps after its ARG run again.", id="args-intro")
            text = "".join(f"{k}={v}\n" for k, v in self.initial.items())
            yield TextArea(text, id="args-text", soft_wrap=False, show_line_numbers=True, compact=True,
                           placeholder="APP_VERSION=2.0.0")
            declared = declared_args(self.project)
            hint = Static(f"Declared in the Dockerfile: {', '.join(declared)}" if declared
                          else "The Dockerfile declares no ARG.", id="args-declared")
            hint.display = declared is not None
            yield hint
            yield Static("", id="args-problem")
            with Horizontal(id="args-buttons"):
                yield Button("Cancel", id="args-cancel", compact=True)
                yield Button("Save", id="args-save", variant="primary", compact=True)

    def on_mount(self) -> None:
        area = self.query_one("#args-text", TextArea)
        area.focus()
        area.move_cursor(area.document.end)

    @on(TextArea.Changed, "#args-text")
    def _changed(self) -> None:
        self.query_one("#args-problem", Static).update("")

    @on(Button.Pressed, "#args-save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#args-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_save(self) -> None:
        try:
            args = parse_build_args(self.query_one("#args-text", TextArea).text)
        except BadInput as exc:
            self.query_one("#args-problem", Static).update(f"{exc.message} Fix: {exc.fix}")
            return
        self.dismiss(args)

    def action_cancel(self) -> None:
        self.dismiss(None)
