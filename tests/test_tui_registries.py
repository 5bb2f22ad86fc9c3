"""The Registries screen: snapshots (the list, test results all ok / unauthorized / unreachable,
no keyring, the add form with a typed password) from fixed results and an in-memory keyring, and
pilot tests: add a ref with its password through the form (keyring, or session only when there
is no keyring), delete, and never a password on screen."""

from __future__ import annotations

import keyring
import pytest
from keyring.backends import fail
from textual.widgets import Checkbox, DataTable, Input

from railpack_tui.core import credentials
from railpack_tui.tui.screens.registries import RegistriesScreen
from railpack_tui.tui.screens.registries_form import RegistryFormScreen
from railpack_tui.tui.widgets.registries_store import SavedRef, load_refs, put_ref
from support.memory_keyring import MemoryKeyring
from support.tui_fixtures import REF, result_all_ok, result_unauthorized, result_unreachable, rows_on_screen, settle
from tui_support import make_app

SIZES = {"120x40": (120, 40), "80x24": (80, 24)}
UNREACHABLE_REF = "127.0.0.1:5999/team/cache-demo:cache"
SECRET = "hunter2-Never-Shown"


@pytest.fixture()
def isolated(tmp_path, monkeypatch):
    """Private config dir (credential names index, settings) and an in-memory keyring."""
    monkeypatch.setenv("RAILPACK_TUI_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("RAILPACK_TUI_SANDBOX_DIR", str(tmp_path / "no-sandbox"))
    before = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(before)
    credentials._session.clear()


@pytest.fixture()
def no_keyring(isolated):
    keyring.set_keyring(fail.Keyring())
    yield


def _app(tmp_path):
    app = make_app(tmp_path, cache_ref=REF)
    put_ref(app.state.settings, SavedRef(REF, "ci-bot"))
    put_ref(app.state.settings, SavedRef(UNREACHABLE_REF, ""))
    return app


def _saved_ci_bot():
    credentials.save(credentials.Credential("registry.example.com", "ci-bot", SECRET))


async def _on_registries(pilot):
    await pilot.press("3")
    await settle(pilot)


def _show(result_factory, ref=REF, username="ci-bot"):
    async def run_before(pilot):
        await _on_registries(pilot)
        pilot.app.screen.show_result(SavedRef(ref, username), result_factory())
        await settle(pilot)

    return run_before


@pytest.mark.parametrize("size", ["120x40", "80x24"])
def test_list(snap_compare, tmp_path, isolated, size):
    _saved_ci_bot()
    assert snap_compare(_app(tmp_path), terminal_size=SIZES[size], run_before=_on_registries)


@pytest.mark.parametrize("size", ["120x40", "80x24"])
def test_result_all_ok(snap_compare, tmp_path, isolated, size):
    _saved_ci_bot()
    assert snap_compare(_app(tmp_path), terminal_size=SIZES[size], run_before=_show(result_all_ok))


def test_result_unauthorized(snap_compare, tmp_path, isolated):
    _saved_ci_bot()
    assert snap_compare(_app(tmp_path), terminal_size=(120, 40), run_before=_show(result_unauthorized))


def test_result_unreachable(snap_compare, tmp_path, isolated):
    _saved_ci_bot()
    assert snap_compare(_app(tmp_path), terminal_size=(120, 40),
                        run_before=_show(result_unreachable, ref=UNREACHABLE_REF, username=""))


@pytest.mark.parametrize("size", ["120x40", "80x24"])
def test_no_keyring(snap_compare, tmp_path, no_keyring, size):
    assert snap_compare(_app(tmp_path), terminal_size=SIZES[size], run_before=_on_registries)


def test_add_form_masks_the_password(snap_compare, tmp_path, isolated):
    async def run_before(pilot):
        await _on_registries(pilot)
        await pilot.press("a")
        await pilot.pause()
        await pilot.press(*"registry.example.com/team/other:cache", "tab", *"ci-bot", "tab", *SECRET)
        await pilot.pause()

    assert snap_compare(_app(tmp_path), terminal_size=(120, 40), run_before=run_before)


# --- behaviour ------------------------------------------------------------------------------------

async def _fill_form(pilot, ref, username, password, *, session_only=False):
    await pilot.press("a")
    await pilot.pause()
    form = pilot.app.screen
    assert isinstance(form, RegistryFormScreen)
    form.query_one("#form-ref", Input).value = ref
    form.query_one("#form-username", Input).value = username
    form.query_one("#form-password", Input).value = password
    if session_only:
        form.query_one("#form-session", Checkbox).value = True
    await pilot.click("#form-save")
    await settle(pilot)


async def test_a_burst_of_keys_after_tab_lands_in_the_next_field(tmp_path, isolated):
    """Keys arriving together (a paste, a password manager's autotype) are queued before any is
    handled: Tab must move the focus before the keys behind it are routed, or the password would
    be typed into the ref field, on screen."""
    from textual import events

    app = _app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await _on_registries(pilot)
        await pilot.press("a")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, RegistryFormScreen)
        ref = "registry.example.com/team/other:cache"
        burst = [*ref, "tab", *"ci-bot", "tab", *SECRET, "shift+tab"]
        for key in burst:
            char = {"tab": "\t", "shift+tab": None}.get(key) if len(key) > 1 else key
            app._driver.send_message(events.Key(key, char))
        await settle(pilot)
        assert form.query_one("#form-ref", Input).value == ref
        assert form.query_one("#form-username", Input).value == "ci-bot"
        assert form.query_one("#form-password", Input).value == SECRET
        assert app.focused is form.query_one("#form-username", Input)


async def test_add_saves_the_password_in_the_keyring_and_the_name_in_settings(tmp_path, isolated):
    app = _app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await _on_registries(pilot)
        await _fill_form(pilot, "registry.example.com/team/other:cache", "deployer", SECRET)
        screen = app.screen
        assert isinstance(screen, RegistriesScreen)
        assert isolated.store[(credentials.service_name("registry.example.com"), "deployer")] == SECRET
        refs = {s.ref: s for s in load_refs(app.state.settings)}
        assert refs["registry.example.com/team/other:cache"].username == "deployer"
        assert SECRET not in app.state.settings.path.read_text()
        table = screen.query_one("#registries-table", DataTable)
        row = table.get_row("registry.example.com/team/other:cache")
        assert str(row[2]) == "keyring"
        svg = app.export_screenshot()
        assert SECRET not in svg
        assert all(SECRET not in str(n.message) for n in app._notifications)


async def test_without_a_keyring_the_password_is_kept_for_the_session_only(tmp_path, no_keyring):
    app = _app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await _on_registries(pilot)
        await pilot.press("a")
        await pilot.pause()
        session = app.screen.query_one("#form-session", Checkbox)
        assert session.value is True and session.disabled  # the only choice
        await pilot.press("escape")
        await pilot.pause()
        await _fill_form(pilot, "registry.example.com/team/other:cache", "deployer", SECRET)
        cred = credentials.for_registry("registry.example.com", "deployer")
        assert cred is not None and cred.source == "session" and cred.password == SECRET
        row = app.screen.query_one("#registries-table", DataTable).get_row("registry.example.com/team/other:cache")
        assert str(row[2]) == "session"
        assert SECRET not in app.export_screenshot()


async def _refused_by_the_add_form(pilot, **fields) -> str:
    """Fill the add form (field id suffix -> value), press Save: the form stays open; its problem."""
    await _on_registries(pilot)
    await pilot.press("a")
    await pilot.pause()
    form = pilot.app.screen
    for name, value in fields.items():
        form.query_one(f"#form-{name}", Input).value = value
    await pilot.click("#form-save")
    await pilot.pause()
    assert isinstance(pilot.app.screen, RegistryFormScreen)  # still open
    return str(form.query_one("#form-problem").render())


async def test_form_refuses_a_bad_ref_with_its_fix(tmp_path, isolated):
    app = _app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        problem = await _refused_by_the_add_form(pilot, ref="Registry.Example.com/Team/App")
        assert "uppercase" in problem and "Fix:" in problem


async def test_delete_and_use(tmp_path, isolated):
    app = _app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await _on_registries(pilot)
        table = app.screen.query_one("#registries-table", DataTable)
        table.move_cursor(row=table.get_row_index(UNREACHABLE_REF))
        await pilot.press("u")
        await pilot.pause()
        assert app.state.cache_ref == UNREACHABLE_REF
        await pilot.press("d")
        await pilot.pause()
        assert UNREACHABLE_REF not in [s.ref for s in load_refs(app.state.settings)]


def test_form_result_never_prints_the_password():
    from railpack_tui.tui.screens.registries_form import RegistryForm

    form = RegistryForm(SavedRef(REF, "ci-bot"), SECRET, session_only=False)
    assert SECRET not in repr(form) and SECRET not in str(form) and SECRET not in f"{form}"


async def test_the_command_palette_offers_the_screen_actions(tmp_path, isolated):
    app = _app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await _on_registries(pilot)
        titles = [c.title for c in app.screen.screen_commands()]
        assert "Registries: add a cache ref" in titles and "Registries: test the selected cache ref" in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"add a cache ref")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, RegistryFormScreen)


async def test_a_saved_login_without_a_ref_is_listed_and_can_get_one(tmp_path, isolated):
    credentials.save(credentials.Credential("ghcr.example.org", "bob", SECRET))  # like `registry login`
    app = _app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await _on_registries(pilot)
        table = app.screen.query_one("#registries-table", DataTable)
        key = "login:ghcr.example.org:bob"
        row = table.get_row(key)
        assert str(row[0]).startswith("ghcr.example.org") and row[1] == "bob" and str(row[2]) == "keyring"
        table.move_cursor(row=table.get_row_index(key))
        await pilot.press("t")
        await pilot.pause()
        assert any("saved login without a cache ref" in str(n.message) for n in app._notifications)
        await pilot.press("e")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, RegistryFormScreen)
        assert form.query_one("#form-ref", Input).value == "ghcr.example.org/"
        assert form.query_one("#form-username", Input).value == "bob"
        await pilot.press(*"team/cache:main", "enter")
        await settle(pilot)
        assert "ghcr.example.org/team/cache:main" in [s.ref for s in load_refs(app.state.settings)]
        row = table.get_row("ghcr.example.org/team/cache:main")
        assert row[1] == "bob" and str(row[2]) == "keyring"  # the saved login serves the new ref
        assert key not in [k.value for k in table.rows]


async def _on_the_saved_login_row(pilot) -> DataTable:
    """Registries, cursor on the row of bob's saved login for ghcr.example.org (no cache ref on it)."""
    await _on_registries(pilot)
    table = pilot.app.screen.query_one("#registries-table", DataTable)
    table.move_cursor(row=table.get_row_index("login:ghcr.example.org:bob"))
    await settle(pilot)
    return table


async def test_d_on_a_saved_login_removes_it_from_the_keyring(tmp_path, isolated):
    credentials.save(credentials.Credential("ghcr.example.org", "bob", SECRET))
    app = _app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await _on_the_saved_login_row(pilot)
        await pilot.press("d")
        await settle(pilot)
        await settle(pilot)
        assert (credentials.service_name("ghcr.example.org"), "bob") not in isolated.store
        assert "login:ghcr.example.org:bob" not in [k.value for k in table.rows]


async def test_a_highlighted_saved_login_is_described_not_shown_by_its_row_key(tmp_path, isolated):
    """The Test pane named the row's internal key ("login:host:user") and said "press t", which
    only answers that a login cannot be tested without a cache ref."""
    credentials.save(credentials.Credential("ghcr.example.org", "bob", SECRET))
    app = _app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await _on_the_saved_login_row(pilot)
        heading = str(app.screen.query_one("#checks-heading").render())
        assert "login:" not in heading
        assert "ghcr.example.org" in heading and "bob" in heading and "press e" in heading
        table.move_cursor(row=table.get_row_index(REF))
        await settle(pilot)
        assert REF in str(app.screen.query_one("#checks-heading").render())


async def test_a_login_saved_in_a_keyring_this_session_cannot_open_is_not_shown_as_usable(tmp_path, isolated):
    """The names index remembers logins saved in a keyring; without a usable keyring now (another
    session, no Secret Service) their secret cannot be read: the row said "keyring" in green under
    the NO KEYRING banner."""
    credentials.save(credentials.Credential("ghcr.example.org", "bob", SECRET))
    keyring.set_keyring(fail.Keyring())  # the next session has no Secret Service
    app = _app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await _on_the_saved_login_row(pilot)
        assert str(table.get_row("login:ghcr.example.org:bob")[2]) == "keyring (unavailable)"


async def test_one_no_keyring_banner_also_after_another_screen_loads_its_css(tmp_path, no_keyring):
    """The first visit to History (or Projects, or the add form) loads that screen's CSS file;
    Textual then re-styled the Registries screen and both banners (long and narrow) showed."""
    app = _app(tmp_path)
    async with app.run_test(size=(140, 45)) as pilot:
        await _on_registries(pilot)
        screen = app.screen

        def shown():
            return [w.id for w in screen.query(".keyring-banner") if w.display]

        assert shown() == ["keyring-banner"]
        await pilot.press("4")
        await settle(pilot)
        await _on_registries(pilot)
        assert shown() == ["keyring-banner"]
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        assert shown() == ["keyring-banner-short"]
        await pilot.resize_terminal(140, 45)
        await settle(pilot)
        assert shown() == ["keyring-banner"]


async def test_the_sandbox_password_is_named_when_the_keyring_login_is_unavailable(tmp_path, isolated):
    """A sandbox ref whose login was also saved in a keyring that is gone now: builds and tests use
    the sandbox's own password, and the Secret column says so."""
    from types import SimpleNamespace

    credentials.save(credentials.Credential("registry.example.com", "ci-bot", SECRET))
    keyring.set_keyring(fail.Keyring())
    app = _app(tmp_path)
    app.state.sandbox = SimpleNamespace(registry="registry.example.com", username="railpack")
    async with app.run_test(size=(120, 40)) as pilot:
        await _on_registries(pilot)
        table = app.screen.query_one("#registries-table", DataTable)
        assert str(table.get_row(REF)[2]) == "sandbox"


async def test_form_says_a_ca_file_that_is_a_directory_is_one(tmp_path, isolated):
    app = _app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        problem = await _refused_by_the_add_form(pilot, ref="registry.example.com/team/app:cache", ca=str(tmp_path))
        assert "is a directory, not a file" in problem


async def _on_row(pilot, key: str) -> DataTable:
    """Registries, with the cursor on the row of `key` (a ref, or login:HOST:USER)."""
    await _on_registries(pilot)
    table = pilot.app.screen.query_one("#registries-table", DataTable)
    table.move_cursor(row=table.get_row_index(key))
    await pilot.pause()
    return table


async def test_editing_the_username_without_a_password_is_refused_not_saved_without_one(tmp_path, isolated):
    """The edit form says the password field is "unchanged (a password is stored)"; the stored
    password is ci-bot's. Changing the username (or the registry) and leaving the password empty
    saved the ref under a login with no password at all (Secret: none) and said "Saved"."""
    _saved_ci_bot()
    app = _app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await _on_row(pilot, REF)
        await pilot.press("e")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, RegistryFormScreen)
        form.query_one("#form-username", Input).value = "carol"
        await pilot.click("#form-save")
        await pilot.pause()
        assert isinstance(app.screen, RegistryFormScreen)  # still open
        problem = str(form.query_one("#form-problem").render())
        assert "carol" in problem and "ci-bot" in problem and "Password" in problem
        form.query_one("#form-password", Input).value = "carols-own"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, RegistriesScreen), str(form.query_one("#form-problem").render())
        assert str(table.get_row(REF)[2]) == "keyring" and table.get_row(REF)[1] == "carol"
        # a username that already has a saved login needs no password typed again
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#form-username", Input).value = "ci-bot"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, RegistriesScreen)
        assert table.get_row(REF)[1] == "ci-bot"


async def test_removing_a_ref_leaves_its_login_listed_where_d_removes_it(tmp_path, isolated):
    """Removing a ref keeps its password (the message says so); the login was then listed nowhere
    when another ref used the same registry, so the screen could no longer show or remove it."""
    credentials.save(credentials.Credential("registry.example.com", "alice", SECRET))
    app = _app(tmp_path)
    put_ref(app.state.settings, SavedRef("registry.example.com/team/a:cache", "alice"))
    async with app.run_test(size=(120, 40)) as pilot:
        table = await _on_row(pilot, "registry.example.com/team/a:cache")
        await pilot.press("d")
        await settle(pilot)
        said = [str(n.message) for n in app._notifications][-1]
        assert "alice" in said and "registry.example.com" in said
        key = "login:registry.example.com:alice"
        assert key in [k.value for k in table.rows]  # still there, as a saved login
        table.move_cursor(row=table.get_row_index(key))
        await pilot.press("d")
        await settle(pilot)
        await settle(pilot)
        assert (credentials.service_name("registry.example.com"), "alice") not in isolated.store
        assert REF in [k.value for k in table.rows]  # ci-bot's ref untouched


@pytest.mark.parametrize("size", [(40, 10), (120, 14)])
async def test_a_short_terminal_shows_the_refs_under_a_one_line_no_keyring_banner(tmp_path, no_keyring, size):
    """At 40x10 the NO KEYRING banner (boxed, wrapped) took every row: no cache ref was visible."""
    app = _app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await _on_registries(pilot)
        banners = [w for w in app.screen.query(".keyring-banner") if w.display]
        assert len(banners) == 1 and "NO KEYRING" in str(banners[0].render())
        assert rows_on_screen(app, app.screen.query_one("#registries-table", DataTable)) >= 1


async def test_a_ref_without_a_username_names_the_saved_login_its_test_and_builds_use(tmp_path, isolated):
    """A ref saved with no username is tested and built with the registry's saved login (here
    ci-bot's), not anonymously: its User column said "anonymous" and the form's placeholder too."""
    _saved_ci_bot()
    app = _app(tmp_path)
    put_ref(app.state.settings, SavedRef("registry.example.com/team/other:cache", ""))
    async with app.run_test(size=(120, 40)) as pilot:
        await _on_registries(pilot)
        table = app.screen.query_one("#registries-table", DataTable)
        assert str(table.get_row("registry.example.com/team/other:cache")[1]) == "ci-bot (saved login)"
        assert str(table.get_row(UNREACHABLE_REF)[1]) == "anonymous"  # no login for 127.0.0.1:5999
        await pilot.press("a")
        await pilot.pause()
        assert "anonymous" not in app.screen.query_one("#form-username", Input).placeholder.replace(
            "else anonymous", "")


async def test_t_elsewhere_tests_the_project_cache_ref_not_the_last_highlighted_row(tmp_path, isolated):
    """t on the Build screen (the cold banner says "test the registry (t)") switched to Registries
    and tested whichever row was highlighted there last, not the cache ref the build uses."""
    app = _app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await _on_row(pilot, UNREACHABLE_REF)
        await pilot.pause()
        await pilot.press("1")
        await pilot.pause()
        await pilot.press("t")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RegistriesScreen)
        assert REF in screen.last_results or screen.testing == REF
        assert UNREACHABLE_REF not in screen.last_results and screen.testing != UNREACHABLE_REF


async def test_renaming_the_project_cache_ref_keeps_it_the_project_one(tmp_path, isolated):
    """Editing the ● row (the project's cache ref) into another ref left the project on the old
    name, which came back as a second, unsaved row."""
    app = _app(tmp_path)
    renamed = "registry.example.com/team/cache-demo:v2"
    async with app.run_test(size=(120, 40)) as pilot:
        table = await _on_row(pilot, REF)
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#form-ref", Input).value = renamed
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.state.cache_ref == renamed
        assert REF not in [k.value for k in table.rows]


async def test_a_failed_check_gives_the_fix_in_the_dashboard_s_terms(tmp_path, isolated):
    _saved_ci_bot()
    app = _app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await _show(result_unauthorized)(pilot)
        fix = str(app.screen.query_one("#checks-fix").render())
        assert "registry login" not in fix and "e on Registries" in fix
