"""Registries: the saved cache refs (names only; passwords live in the keyring or this session's
memory), add/edit with a masked password, and **Test** (`t`): the registry checks run live in a
thread worker that posts one `CheckDone` per check and a `TestFinished` at the end (harlequin
style), so each row fills in as its check completes. Without a usable keyring the screen says so,
with the fixes, and offers to keep a password for this session only. No password is ever shown,
logged or put in a notification."""

from __future__ import annotations

import threading
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static

from railpack_tui.core import credentials, refs
from railpack_tui.core.errors import BadInput, RailpackTuiError

from ..fixes import for_dashboard, in_dashboard_terms
from ..widgets.registries_checks import RegistryChecks
from ..widgets.registries_store import SavedRef, drop_ref, load_refs, put_ref
from .registries_form import RegistryForm, RegistryFormScreen
from .state_screen import StateScreen

TEST_TIMEOUT_S = 5.0


class KeyringChecked(Message):
    def __init__(self, status: Any, saved: list[Any]) -> None:
        super().__init__()
        self.status = status
        self.saved = saved  # credentials.SavedName (names only)


class CheckDone(Message):
    def __init__(self, ref: str, check: Any) -> None:
        super().__init__()
        self.ref = ref
        self.check = check


class TestFinished(Message):
    def __init__(self, ref: str, result: Any = None, error: str | None = None) -> None:
        super().__init__()
        self.ref = ref
        self.result = result
        self.error = error


class CredentialSaved(Message):
    def __init__(self, form: RegistryForm | None, where: str | None, error: BaseException | None = None) -> None:
        super().__init__()
        self.form = form
        self.where = where
        self.error = error


def registry_of(ref: str) -> str:
    try:
        return refs.parse_cache_ref(ref).registry
    except RailpackTuiError:
        return ""


class RegistriesScreen(StateScreen):
    """The Registries mode (key 3)."""

    CSS_PATH = "registries.tcss"

    AUTO_FOCUS = "#registries-table"
    BINDINGS = [
        Binding("t", "test_registry", "Test"),
        Binding("a", "add", "Add"),
        Binding("e", "edit", "Edit"),
        Binding("d", "delete", "Delete"),
        Binding("u", "use", "Use for project"),
        Binding("escape", "stop_test", "Stop test", show=False),
    ]

    def __init__(self, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.keyring: Any = None  # credentials.KeyringStatus once checked
        self.saved_names: list[Any] = []
        self.last_results: dict[str, Any] = {}
        self.testing: str | None = None
        self._cancel: threading.Event | None = None
        self._pending_test = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="registries-body"):
            yield Static("", id="keyring-banner", classes="keyring-banner")
            yield Static("", id="keyring-banner-short", classes="keyring-banner")
            with Vertical(id="registries-list", classes="pane") as pane:
                pane.border_title = "Cache refs"
                table: DataTable = DataTable(id="registries-table", cursor_type="row")
                table.add_column("Cache ref", key="ref")
                table.add_column("User", key="user")
                table.add_column("Secret", key="secret")
                table.add_column("Last test", key="last")
                yield table
                yield Static("[b]a[/b] add  [b]e[/b] edit  [b]d[/b] delete  [b]t[/b] test  [b]u[/b] use for the project",
                             id="registries-hint")
            checks = RegistryChecks(id="registries-detail", classes="pane")
            checks.border_title = "Test"
            yield checks
        yield Footer()

    # -- state ----------------------------------------------------------------------------------
    def on_mount(self) -> None:
        self._refresh_table()
        self.check_keyring()

    def state_changed(self, fields: set[str]) -> None:
        if fields & {"cache_ref", "project"}:
            self._refresh_table()

    def entries(self) -> list[SavedRef]:
        """Saved refs, with the open project's cache ref first when it is not saved yet."""
        items = load_refs(self.settings())
        current = getattr(self.app_state(), "cache_ref", None)
        if current and all(s.ref != current for s in items):
            items.insert(0, SavedRef(ref=current, username=self._sandbox_user(current)))
        return items

    def _sandbox_user(self, ref: str) -> str:
        sandbox = getattr(self.app_state(), "sandbox", None)
        if sandbox is not None and getattr(sandbox, "registry", None) == registry_of(ref):
            return getattr(sandbox, "username", "") or ""
        return ""

    def logins_without_ref(self) -> list[Any]:
        """Saved logins (`registry login HOST`, or a removed ref's) that no listed cache ref names:
        each gets a row of its own, so it can be seen, given a ref (e) or removed (d)."""
        named = {(registry_of(s.ref), s.username) for s in self.entries()}
        seen: set[tuple[str, str]] = set()
        out = []
        for n in self.saved_names:  # one row per login: it can be in the keyring and this session's memory
            if (n.host, n.username) not in named and (n.host, n.username) not in seen:
                seen.add((n.host, n.username))
                out.append(n)
        return out

    def _cursor_key(self) -> str | None:
        table = self.query_one("#registries-table", DataTable)
        if table.row_count == 0:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:
            return None

    def selected_login(self) -> Any:
        key = self._cursor_key()
        return next((n for n in self.logins_without_ref() if f"login:{n.host}:{n.username}" == key), None)

    def selected(self) -> SavedRef | None:
        key = self._cursor_key()
        return next((s for s in self.entries() if s.ref == key), None)

    def _store_cell(self, store: str) -> Text:
        if store == "session":
            return Text("session", style="yellow")
        if self.keyring is not None and not self.keyring.usable:  # saved in a keyring this session cannot open
            return Text("keyring (unavailable)", style="yellow")
        return Text("keyring", style="green")

    def _secret_cell(self, saved: SavedRef) -> Text:
        host = registry_of(saved.ref)
        stores = {n.store for n in self.saved_names if n.host == host and (not saved.username or n.username == saved.username)}
        keyring_usable = self.keyring is None or self.keyring.usable
        if "session" in stores or ("keyring" in stores and keyring_usable):
            return self._store_cell("session" if "session" in stores else "keyring")
        sandbox = getattr(self.app_state(), "sandbox", None)
        if sandbox is not None and getattr(sandbox, "registry", None) == host:
            return Text("sandbox", style="cyan")  # the sandbox's own password (what a build then uses)
        if "keyring" in stores:
            return self._store_cell("keyring")  # saved, but in a keyring this session cannot open
        return Text("none", style="dim")

    def _user_cell(self, saved: SavedRef) -> Text | str:
        """The username; for a ref without one, the login its test and builds use (as
        credentials.for_registry picks it: this session's, the newest in the keyring, the
        sandbox's), else anonymous."""
        if saved.username:
            return saved.username
        host = registry_of(saved.ref)
        keyring_usable = self.keyring is None or self.keyring.usable
        session = [n.username for n in self.saved_names if n.host == host and n.store == "session"]
        kept = sorted((n for n in self.saved_names if n.host == host and n.store == "keyring" and keyring_usable),
                      key=lambda n: n.saved_at or 0, reverse=True)
        sandbox = getattr(self.app_state(), "sandbox", None)
        sandbox_user = getattr(sandbox, "username", "") if getattr(sandbox, "registry", None) == host else ""
        login = (session[-1:] or [n.username for n in kept[:1]] or [sandbox_user])[0]
        return Text(f"{login} (saved login)", style="dim") if login else Text("anonymous", style="dim")

    def _last_cell(self, ref: str) -> Text:
        if ref == self.testing:
            return Text("testing…", style="yellow")
        result = self.last_results.get(ref)
        if result is None:
            return Text("—", style="dim")
        if isinstance(result, str):
            return Text("✗ error", style="red")
        if result.ok:
            return Text("✓ ok", style="green")
        if getattr(result, "cancelled", False):
            return Text("stopped", style="yellow")
        failed = result.failed
        return Text(f"✗ {failed.kind if failed and failed.kind else 'failed'}", style="red")

    def _refresh_table(self) -> None:
        table = self.query_one("#registries-table", DataTable)
        keep = self.selected()
        table.clear()
        current = getattr(self.app_state(), "cache_ref", None)
        for saved in self.entries():
            label = Text(saved.ref)
            if saved.ref == current:
                label = Text.assemble(("● ", "bold"), saved.ref)
            table.add_row(label, self._user_cell(saved), self._secret_cell(saved),
                          self._last_cell(saved.ref), key=saved.ref)
        for login in self.logins_without_ref():
            store = self._store_cell(login.store)
            table.add_row(Text.assemble(login.host, ("  saved login: e adds a cache ref on it", "dim")), login.username,
                          store, Text("—", style="dim"), key=f"login:{login.host}:{login.username}")
        if table.row_count == 0:
            self.query_one(RegistryChecks).query_one("#checks-heading", Static).update(
                "No cache refs yet: press [b]a[/b] to add one.")
        target = keep.ref if keep is not None else current
        if target:
            self._select(target)

    def screen_commands(self):
        """What the command palette offers on this screen."""
        yield SystemCommand("Registries: add a cache ref", "With its username and password (key a)", self.action_add)
        yield SystemCommand("Registries: edit the selected cache ref", "Change its login or options (key e)",
                            self.action_edit)
        yield SystemCommand("Registries: test the selected cache ref", "Run the checks live (key t)",
                            self.action_test_registry)
        yield SystemCommand("Registries: use the selected cache ref", "Make it the project's cache ref (key u)",
                            self.action_use)
        yield SystemCommand("Registries: remove the selected cache ref", "From the list (key d)", self.action_delete)

    # -- keyring --------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="registries-keyring", exit_on_error=False)
    def check_keyring(self) -> None:
        status = credentials.keyring_status()
        self.post_message(KeyringChecked(status, credentials.list_saved()))

    def _apply_width(self, width: int) -> None:
        super()._apply_width(width)
        self._show_banner()

    def _show_banner(self) -> None:
        """The long NO KEYRING banner, or the short one on a narrow screen, or neither. Set on the
        widgets, not left to the stylesheet: when another screen's CSS file loads later (the first
        visit to Projects or History, the add form), Textual re-styles this screen's nodes and both
        banners came back with the default display (seen: both shown at 140 columns)."""
        shown = self.keyring is not None and not self.keyring.usable
        narrow = self.has_class("-narrow") or self.has_class("-short")
        for widget in self.query(".keyring-banner"):  # none yet before compose
            widget.display = shown and narrow == (widget.id == "keyring-banner-short")

    def on_keyring_checked(self, message: KeyringChecked) -> None:
        self.keyring = message.status
        self.saved_names = message.saved
        banner = self.query_one("#keyring-banner", Static)
        short = self.query_one("#keyring-banner-short", Static)
        if message.status.usable:
            banner.update("")
            short.update("")
        else:
            banner.update(Text.assemble(("NO KEYRING ", "bold reverse yellow"), " ", f"{message.status.detail}: ",
                                        "passwords can be kept for this session only (", ("a", "bold"),
                                        " adds a ref with one; gone when railpack-tui exits).\n",
                                        ("Fix: ", "bold"), credentials.NO_KEYRING_FIX, "."))
            short.update(Text.assemble(("NO KEYRING ", "bold reverse yellow"), " passwords are kept for this session only. ",
                                       ("Fix: ", "bold"), "run a Secret Service (gnome-keyring in a D-Bus session) "
                                       "or set PYTHON_KEYRING_BACKEND."))
        for widget in (banner, short):
            widget.set_class(not message.status.usable, "-shown")
        self._show_banner()
        self._refresh_table()
        if self._pending_test:
            self._pending_test = False
            self.action_test_registry()

    # -- add / edit / delete ----------------------------------------------------------------------
    def _open_form(self, existing: SavedRef | None, prefill: SavedRef | None = None) -> None:
        usable = bool(self.keyring.usable) if self.keyring is not None else True
        detail = self.keyring.detail if self.keyring is not None else ""
        has_secret = existing is not None and str(self._secret_cell(existing)) in ("keyring", "session")
        if prefill is not None:
            has_secret = True
        logins = {(n.host, n.username) for n in self.saved_names if n.store == "session" or usable}
        sandbox = getattr(self.app_state(), "sandbox", None)
        if sandbox is not None and getattr(sandbox, "registry", None):
            logins.add((sandbox.registry, getattr(sandbox, "username", "") or ""))
        self.app.push_screen(RegistryFormScreen(existing, keyring_usable=usable, keyring_detail=detail,
                                                has_secret=has_secret, prefill=prefill, logins=frozenset(logins)),
                             self._form_done)

    def action_add(self) -> None:
        self._open_form(None)

    def action_edit(self) -> None:
        saved = self.selected()
        login = self.selected_login() if saved is None else None
        if login is not None:
            self._open_form(None, prefill=SavedRef(ref=f"{login.host}/", username=login.username))
        elif saved is None:
            self.action_add()
        else:
            self._open_form(saved)

    def _form_done(self, form: RegistryForm | None) -> None:
        if form is None:
            return
        settings = self.settings()
        if settings is not None:
            put_ref(settings, form.saved, form.replacing)
        renamed = form.replacing is not None and form.replacing != form.saved.ref
        if renamed and form.replacing == getattr(self.app_state(), "cache_ref", None) and hasattr(self.app, "update_state"):
            self.app.update_state(cache_ref=form.saved.ref)  # the project's ref was renamed: it follows
        self._refresh_table()
        self._select(form.saved.ref)
        if form.password:
            self.save_credential(form)
        else:
            self.notify(f"Saved {form.saved.ref}.", title="Cache ref", timeout=4)

    @work(thread=True, group="registries-save", exit_on_error=False)
    def save_credential(self, form: RegistryForm) -> None:
        host = registry_of(form.saved.ref)
        cred = credentials.Credential(host, form.saved.username, form.password)
        try:
            self._refuse_the_sandbox_account(cred)
            if form.session_only:
                credentials.remember(cred)
                where = "this session's memory"
            else:
                credentials.save(cred)
                where = "the OS keyring"
        except RailpackTuiError as exc:
            self.post_message(CredentialSaved(form, None, exc))
            return
        self.post_message(CredentialSaved(form, where))

    def _refuse_the_sandbox_account(self, cred: credentials.Credential) -> None:
        """The sandbox registry's own account keeps the password `sandbox up` generated: another
        one saved for it (a typo, or a wrong one to see a 401) would replace it for every ref of
        the sandbox, the project's default included, in the keyring or this session's memory."""
        info = getattr(self.app_state(), "sandbox", None)
        if info is None or cred.host != getattr(info, "registry", None) or cred.username != getattr(info, "username", None):
            return
        from railpack_tui.core import sandbox

        own = sandbox.sandbox_credential(info)
        if own is not None and own.password != cred.password:
            raise BadInput(f"{cred.username} is the sandbox registry's own account: its password comes from "
                           "`railpack-tui sandbox up` and every ref on the sandbox uses it, so the typed password was "
                           "not saved (the ref was).",
                           fix="leave the password empty for the sandbox's account; to see a wrong password (401), "
                               "give the ref another username", kind="sandbox-account")

    def on_credential_saved(self, message: CredentialSaved) -> None:
        if message.form is None:  # a login was removed
            if message.error is not None:
                self.app.report_error(message.error, "removing the saved login")
            else:
                self.notify(message.where.capitalize() + ".", title="Registries", timeout=4)
            self.check_keyring()
            return
        saved = message.form.saved
        if message.error is not None:
            report = getattr(self.app, "report_error", None)
            if report is not None:
                report(message.error, f"saving the password for {saved.username}@{registry_of(saved.ref)}")
            else:
                self.notify(str(message.error), severity="error")
        else:
            self.notify(f"Saved {saved.ref}; the password for {saved.username} is in {message.where}.",
                        title="Cache ref", timeout=5)
        self.check_keyring()

    def action_delete(self) -> None:
        saved = self.selected()
        login = self.selected_login() if saved is None else None
        if login is not None:
            self.forget_login(login.host, login.username)
            return
        if saved is None:
            return
        secret = str(self._secret_cell(saved))
        settings = self.settings()
        if settings is not None:
            drop_ref(settings, saved.ref)
        self.last_results.pop(saved.ref, None)
        self._refresh_table()
        login = (registry_of(saved.ref), saved.username)
        kept = secret.startswith(("keyring", "session")) and login in {(n.host, n.username) for n in self.logins_without_ref()}
        self.notify(f"Removed {saved.ref} from the list." + (
            f" The password for {login[1]}@{login[0]} stays saved: it is listed as a saved login, where d removes it."
            if kept else ""), title="Cache ref", timeout=6)

    @work(thread=True, group="registries-save", exit_on_error=False)
    def forget_login(self, host: str, username: str) -> None:
        try:
            credentials.delete(host, username)
        except RailpackTuiError as exc:
            self.post_message(CredentialSaved(None, None, exc))
            return
        self.post_message(CredentialSaved(None, f"removed the saved login {username}@{host}"))

    def action_use(self) -> None:
        saved = self.selected()
        if saved is None or not hasattr(self.app, "update_state"):
            return
        self.app.update_state(cache_ref=saved.ref)
        self.notify(f"The project now uses {saved.ref}.", title="Cache ref", timeout=4)

    def _select(self, ref: str) -> None:
        table = self.query_one("#registries-table", DataTable)
        try:
            table.move_cursor(row=table.get_row_index(ref))
        except Exception:
            pass

    # -- test ----------------------------------------------------------------------------------
    def test_cache_ref(self) -> None:
        """Test the project's cache ref (t on another screen, the palette's "Test registry")."""
        current = getattr(self.app_state(), "cache_ref", None)
        if not current:  # not whichever row is highlighted: the build would use none of them
            self.notify("This project has no cache ref, so its builds use no registry cache: u on a row here "
                        "(or e on Projects) gives it one, t on a row tests that row.", title="Test registry",
                        severity="warning", timeout=6)
            return
        self._select(current)
        self.action_test_registry()

    def action_test_registry(self) -> None:
        if self.keyring is None:  # the keyring check is still running: test right after it
            self._pending_test = True
            return
        saved = self.selected()
        login = self.selected_login() if saved is None else None
        if login is not None:
            self.notify(f"{login.host} is a saved login without a cache ref: press e to add a ref on it, then t.",
                        timeout=5)
            return
        if saved is None:
            self.notify("No cache ref to test: add one with a.", severity="warning", timeout=4)
            return
        if self.testing is not None:
            self.notify(f"Still testing {self.testing}.", timeout=3)
            return
        self.testing = saved.ref
        who = f"as {saved.username}" if saved.username else "anonymously"
        self.query_one(RegistryChecks).start(saved.ref, who)
        self._refresh_table()
        self._cancel = threading.Event()
        self.run_test(saved, self._cancel)

    @work(thread=True, group="registries-test", exit_on_error=False)
    def run_test(self, saved: SavedRef, cancel: threading.Event) -> None:
        from railpack_tui.core import registry

        try:
            host = registry_of(saved.ref)
            cred = credentials.for_registry(host, saved.username or None) if host else None
            result = registry.run_checks(saved.ref, cred, insecure=saved.insecure, ca_cert=saved.ca_cert or None,
                                         timeout=TEST_TIMEOUT_S, cancel=cancel,
                                         on_check=lambda check: self.post_message(CheckDone(saved.ref, check)))
        except RailpackTuiError as exc:
            self.post_message(TestFinished(saved.ref, error=str(for_dashboard(exc))))
            return
        except Exception as exc:  # the screen must leave the testing state whatever happens
            self.post_message(TestFinished(saved.ref, error=f"unexpected {type(exc).__name__}: {exc}"))
            return
        self.post_message(TestFinished(saved.ref, result=result))

    def action_stop_test(self) -> None:
        if self.testing is not None and self._cancel is not None:
            self._cancel.set()
            self.notify(f"Stopping the test of {self.testing}…", timeout=3)

    def on_unmount(self) -> None:
        if self._cancel is not None:
            self._cancel.set()

    def on_check_done(self, message: CheckDone) -> None:
        if message.ref == self.testing:
            self.query_one(RegistryChecks).add_check(message.check)

    def on_test_finished(self, message: TestFinished) -> None:
        self.testing = None
        for check in getattr(message.result, "checks", None) or []:  # fixes name the form, not CLI flags
            if check.fix:
                check.fix = in_dashboard_terms(check.fix)
        self.last_results[message.ref] = message.result if message.result is not None else (message.error or "error")
        self.query_one(RegistryChecks).finish(message.result, message.error)
        self._refresh_table()
        if message.result is not None:
            ok = message.result.ok
            outcome = ("the test was stopped" if getattr(message.result, "cancelled", False)
                       else "all checks passed" if ok else "a check failed")
            self.notify(f"{message.ref}: {outcome}.", severity="information" if ok else "error", timeout=4)

    def show_result(self, saved: SavedRef, result: Any) -> None:
        """Show a finished test as if it had just run (used by tests and screenshots)."""
        self._select(saved.ref)
        self.query_one(RegistryChecks).start(saved.ref, f"as {saved.username}" if saved.username else "anonymously")
        self.post_message(TestFinished(saved.ref, result=result))

    @on(DataTable.RowSelected, "#registries-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_edit()

    @on(DataTable.RowHighlighted, "#registries-table")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        ref = event.row_key.value if event.row_key is not None else None
        if ref is None or self.testing is not None:
            return
        result = self.last_results.get(ref)
        checks = self.query_one(RegistryChecks)
        login = next((n for n in self.logins_without_ref() if f"login:{n.host}:{n.username}" == ref), None)
        if login is not None:  # the row key is internal: show the login, and what to do with it
            checks.saved_login(login.host, login.username)
        elif result is not None and not isinstance(result, str):
            checks.start(ref, "")
            checks.finish(result)
        elif result is None:
            checks.idle(ref)
