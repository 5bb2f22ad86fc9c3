"""Add or edit a cache ref: the ref, the username, a masked password (never echoed, never
prefilled), plain-HTTP/unverified TLS, a CA file, and where the password goes: the OS keyring, or
this session's memory only (the only choice when no keyring is usable)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from railpack_tui.core import refs
from railpack_tui.core.errors import RailpackTuiError

from ..widgets.projects_choices import CacheRefValidator
from ..widgets.registries_store import SavedRef


@dataclass(frozen=True, repr=False)
class RegistryForm:
    """What the form returns. `password` is "" when left unchanged; it never appears in repr."""

    saved: SavedRef
    password: str
    session_only: bool
    replacing: str | None = None

    def __repr__(self) -> str:
        return f"RegistryForm(saved={self.saved!r}, password={'***' if self.password else ''!r}, session_only={self.session_only})"

    __str__ = __repr__


class RegistryFormScreen(ModalScreen[RegistryForm | None]):
    CSS_PATH = "registries_form.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "save", "Save")]

    def __init__(self, existing: SavedRef | None = None, *, keyring_usable: bool = True, keyring_detail: str = "",
                 has_secret: bool = False, prefill: SavedRef | None = None,
                 logins: frozenset[tuple[str, str]] = frozenset()) -> None:
        super().__init__()
        self.existing = existing
        self.prefill = prefill or existing
        self.keyring_usable = keyring_usable
        self.keyring_detail = keyring_detail
        self.has_secret = has_secret
        self.logins = logins  # (registry, username) pairs that have a password somewhere

    def compose(self) -> ComposeResult:
        e = self.prefill
        with Vertical(id="form") as form:
            form.border_title = "Edit cache ref" if self.existing else "Add a cache ref"
            with Horizontal(classes="row"):
                yield Label("Cache ref", classes="label")
                yield Input(e.ref if e else "", placeholder="registry.example.com/team/app:cache", id="form-ref",
                            validators=[CacheRefValidator()], validate_on=["changed", "submitted"], compact=True)
            with Horizontal(classes="row"):
                yield Label("Username", classes="label")
                yield Input(e.username if e else "", placeholder="empty: the registry's saved login, else anonymous", id="form-username", compact=True)
            with Horizontal(classes="row"):
                yield Label("Password", classes="label")
                hint = "unchanged (a password is stored)" if self.has_secret else "registry password or token"
                yield Input("", password=True, placeholder=hint, id="form-password", compact=True)
            with Horizontal(classes="row"):
                yield Label("CA file", classes="label")
                yield Input(e.ca_cert if e else "", placeholder="PEM file to trust (optional)", id="form-ca", compact=True)
            yield Checkbox("Insecure: allow plain HTTP and unverified TLS", e.insecure if e else False, id="form-insecure")
            yield Checkbox("Keep the password for this session only (not in the keyring)", not self.keyring_usable,
                           id="form-session", disabled=not self.keyring_usable)
            if not self.keyring_usable:
                yield Static(f"No OS keyring: {self.keyring_detail}. The password stays in this session's memory "
                             "and is gone when railpack-tui exits.", id="form-keyring")
            yield Static("", id="form-problem")
            with Horizontal(id="form-buttons"):
                yield Button("Cancel", id="form-cancel", compact=True)
                yield Button("Save", id="form-save", variant="primary", compact=True)

    def on_mount(self) -> None:
        ref_input = self.query_one("#form-ref", Input)
        if self.existing is None:
            ref_input.focus()
            ref_input.cursor_position = len(ref_input.value)
        else:
            self.query_one("#form-password", Input).focus()

    def _problem(self) -> str:
        ref = self.query_one("#form-ref", Input).value.strip()
        if not ref:
            return "Give a cache ref, e.g. registry.example.com/team/app:cache."
        try:
            refs.parse_cache_ref(ref)
        except RailpackTuiError as exc:
            return str(exc)
        username = self.query_one("#form-username", Input).value.strip()
        password = self.query_one("#form-password", Input).value
        if password and not username:
            return "A password needs a username: fill in Username."
        moved = self._stored_password_left_behind(refs.parse_cache_ref(ref).registry, username)
        if not password and moved:
            return (f"The stored password is {moved}'s, not {username}@{refs.parse_cache_ref(ref).registry}'s. "
                    f"Fix: type {username}'s Password, or keep the username {moved}.")
        ca = self.query_one("#form-ca", Input).value.strip()
        if ca and not Path(ca).expanduser().is_file():
            what = "is a directory, not a file" if Path(ca).expanduser().is_dir() else "does not exist"
            return f"The CA file {ca} {what}. Fix: give a readable PEM file, or leave it empty."
        return ""

    def _stored_password_left_behind(self, registry: str, username: str) -> str:
        """The edited ref's old username when its stored password does not serve the new
        registry/username (which has no password saved of its own); "" otherwise."""
        if self.existing is None or not self.has_secret or not username:
            return ""
        try:
            before = (refs.parse_cache_ref(self.existing.ref).registry, self.existing.username)
        except RailpackTuiError:
            return ""
        if (registry, username) == before or (registry, username) in self.logins:
            return ""
        return self.existing.username or ""

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        if event.input.id == "form-password":
            return
        self.query_one("#form-problem", Static).update(self._problem() if event.input.id == "form-ref" and event.value else "")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    @on(Button.Pressed, "#form-save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#form-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_save(self) -> None:
        problem = self._problem()
        if problem:
            self.query_one("#form-problem", Static).update(problem)
            return
        ca = self.query_one("#form-ca", Input).value.strip()
        saved = SavedRef(ref=self.query_one("#form-ref", Input).value.strip(),
                         username=self.query_one("#form-username", Input).value.strip(),
                         insecure=self.query_one("#form-insecure", Checkbox).value,
                         ca_cert=str(Path(ca).expanduser()) if ca else "")
        session_only = self.query_one("#form-session", Checkbox).value or not self.keyring_usable
        self.dismiss(RegistryForm(saved, self.query_one("#form-password", Input).value, session_only,
                                  replacing=self.existing.ref if self.existing else None))

    def action_cancel(self) -> None:
        self.dismiss(None)
