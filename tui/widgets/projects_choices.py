"""The cache ref and builder chosen for a project: two inputs validated as you type (through
core/refs.py and core/builders.py, whose messages name the fix) and a button that keeps them."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.validation import ValidationResult, Validator
from textual.widgets import Button, Input, Label, Static

from railpack_tui.core import builders, refs
from railpack_tui.core.errors import RailpackTuiError


class FixValidator(Validator):
    """Runs a core check; its error (message and fix) becomes the failure. Empty is valid."""

    def __init__(self, check) -> None:
        super().__init__()
        self.check = check

    def validate(self, value: str) -> ValidationResult:
        if not value.strip():
            return self.success()
        try:
            self.check(value)
        except RailpackTuiError as exc:
            return self.failure(str(exc))
        return self.success()


def CacheRefValidator() -> FixValidator:
    """A ref a cache can be exported to; empty means "no registry cache"."""
    return FixValidator(refs.parse_cache_ref)


def BuilderValidator() -> FixValidator:
    """A BuildKit address or a buildx builder name; empty means the default builder."""
    return FixValidator(builders.resolve)


class ProjectChoices(Vertical):
    """Cache ref + builder for the open project."""

    DEFAULT_CSS = """
    ProjectChoices { height: auto; }
    ProjectChoices .choice-row { height: auto; margin-top: 1; }
    ProjectChoices .choice-label { width: 11; padding: 0 1 0 0; color: $text-muted; }
    ProjectChoices Input { width: 1fr; }
    ProjectChoices #choice-problem { color: $error; height: auto; padding: 0 1; }
    ProjectChoices #choice-problem.-ok { color: $success; }
    ProjectChoices #choice-buttons { height: auto; align-horizontal: right; }
    ProjectChoices #choice-buttons Button { margin-left: 1; }
    """

    class Chosen(Message):
        """The user kept a valid cache ref and builder (empty strings mean the defaults)."""

        def __init__(self, cache_ref: str, builder: str) -> None:
            super().__init__()
            self.cache_ref = cache_ref
            self.builder = builder

    def compose(self) -> ComposeResult:
        with Horizontal(classes="choice-row"):
            yield Label("Cache ref", classes="choice-label")
            yield Input(placeholder="registry/repo:tag  (empty: no registry cache)", id="choice-cache-ref",
                        validators=[CacheRefValidator()], validate_on=["changed", "submitted"], compact=True)
        with Horizontal(classes="choice-row"):
            yield Label("Builder", classes="choice-label")
            yield Input(placeholder="unix://, tcp://, a buildx name  (empty: BUILDKIT_HOST, else the sandbox)",
                        id="choice-builder", validators=[BuilderValidator()], validate_on=["changed", "submitted"], compact=True)
        yield Static("", id="choice-problem")
        with Horizontal(id="choice-buttons"):
            yield Button("Use for this project", id="choice-save", variant="primary", compact=True)

    def load(self, cache_ref: str | None, builder: str | None) -> None:
        self.query_one("#choice-cache-ref", Input).value = cache_ref or ""
        self.query_one("#choice-builder", Input).value = builder or ""
        self._say("")

    def _say(self, text: str, ok: bool = False) -> None:
        problem = self.query_one("#choice-problem", Static)
        problem.update(text)
        problem.set_class(ok, "-ok")

    def problems(self) -> list[str]:
        out = []
        for field_id, validator in (("#choice-cache-ref", CacheRefValidator()), ("#choice-builder", BuilderValidator())):
            result = validator.validate(self.query_one(field_id, Input).value)
            out += result.failure_descriptions
        return out

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._say("\n".join(self.problems()))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.keep():
            self.screen.set_focus(None)  # kept: the next keys (1-4, b) are for the app, not the box

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "choice-save":
            event.stop()
            self.keep()

    def keep(self) -> bool:
        problems = self.problems()
        if problems:
            self._say("\n".join(problems))
            return False
        cache_ref = self.query_one("#choice-cache-ref", Input).value.strip()
        builder = self.query_one("#choice-builder", Input).value.strip()
        self._say("✓ kept for this project", ok=True)
        self.post_message(self.Chosen(cache_ref, builder))
        return True
