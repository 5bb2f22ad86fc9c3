"""The Registries screen against the real sandbox registry (htpasswd auth on loopback): add a
cache ref with its credential through the form (saved to the OS keyring under
`scripts/with-keyring`, else kept for the session), press `t`, and watch every check pass; a
wrong login fails at `auth` with its fix. The password never reaches the screen."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from railpack_tui.core import credentials
from railpack_tui.tui.screens.registries_form import RegistryFormScreen
from railpack_tui.tui.widgets.registries_checks import CHECK_NAMES, RegistryChecks
from support.tui_fixtures import settle
from tui_support import make_app

pytestmark = pytest.mark.sandbox


@pytest.fixture()
def private_config(tmp_path, monkeypatch):
    monkeypatch.setenv("RAILPACK_TUI_CONFIG_DIR", str(tmp_path / "config"))
    yield
    credentials._session.clear()


async def _add_and_test(pilot, ref: str, username: str, password: str) -> RegistryChecks:
    app = pilot.app
    await pilot.press("3")
    await settle(pilot)
    await pilot.press("a")
    await pilot.pause()
    form = app.screen
    assert isinstance(form, RegistryFormScreen)
    await pilot.press(*ref)
    await pilot.press("tab", *username, "tab", *password, "enter")
    await settle(pilot)
    table = app.screen.query_one("#registries-table", DataTable)
    table.focus()
    table.move_cursor(row=table.get_row_index(ref))
    await pilot.press("t")
    await pilot.pause()
    checks = app.screen.query_one(RegistryChecks)
    assert checks.running or checks.checks  # the test started (live rows)
    await settle(pilot, timeout=60)
    assert password not in app.export_screenshot()
    return checks


async def test_add_a_sandbox_registry_and_see_every_check_pass(tmp_path, private_config, sandbox, sandbox_credential,
                                                               unique_ref):
    app = make_app(tmp_path, cache_ref=None, builder=sandbox.buildkit_host)
    async with app.run_test(size=(120, 40)) as pilot:
        checks = await _add_and_test(pilot, unique_ref, sandbox_credential.username, sandbox_credential.password)
        assert list(checks.checks) == list(CHECK_NAMES)
        failed = {n: c.detail for n, c in checks.checks.items() if not (c.ok or c.skipped)}
        assert failed == {}
        assert checks.checks["auth"].detail == f"Basic as {sandbox_credential.username}"
        assert checks.checks["push"].ok and not checks.checks["push"].skipped
        assert checks.checks["pull"].detail.startswith("no cache yet")  # a fresh ref: an empty cache is fine
        row = app.screen.query_one("#registries-table", DataTable).get_row(unique_ref)
        assert str(row[3]) == "✓ ok"
        store = "keyring" if credentials.keyring_status().usable else "session"
        assert str(row[2]) == store
        cred = credentials.for_registry(sandbox.registry, sandbox_credential.username)
        assert cred is not None and cred.source == store


async def test_a_wrong_login_fails_at_auth_with_the_fix(tmp_path, private_config, sandbox, unique_ref):
    app = make_app(tmp_path, cache_ref=None, builder=sandbox.buildkit_host)
    async with app.run_test(size=(120, 40)) as pilot:
        checks = await _add_and_test(pilot, unique_ref, "nobody", "wrong-password-123")
        auth = checks.checks["auth"]
        assert not auth.ok and auth.kind == "unauthorized"
        assert all(checks.checks[n].ok for n in ("resolve", "connect", "tls", "ping"))
        assert all(checks.checks[n].skipped for n in ("pull", "push", "cache"))
        fix = str(app.screen.query_one("#checks-fix").render())
        assert "rejected the username or password for nobody" in fix and "Fix:" in fix
        row = app.screen.query_one("#registries-table", DataTable).get_row(unique_ref)
        assert str(row[3]) == "✗ unauthorized"


async def test_t_on_the_build_screen_tests_the_projects_cache_ref(tmp_path, private_config, sandbox, unique_ref):
    # the sandbox registry's own credential is found without any login
    app = make_app(tmp_path, cache_ref=unique_ref, builder=sandbox.buildkit_host)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("t")
        for _ in range(600):  # the app switches to Registries, then the test starts and runs
            screen = app.screen
            if screen.query(RegistryChecks) and not screen.query_one(RegistryChecks).running \
                    and len(screen.query_one(RegistryChecks).checks) == len(CHECK_NAMES):
                break
            await pilot.pause(0.1)
        await settle(pilot)
        checks = app.screen.query_one(RegistryChecks)
        assert list(checks.checks) == list(CHECK_NAMES)
        assert all(c.ok or c.skipped for c in checks.checks.values())
        assert str(app.screen.query_one("#registries-table", DataTable).get_row(unique_ref)[3]) == "✓ ok"


async def test_escape_stops_a_slow_test(tmp_path, private_config, sandbox, sandbox_credential):
    from support.slowproxy import slow_proxy

    port = int(sandbox.registry.rsplit(":", 1)[1])
    with slow_proxy(port, delay=1.0) as slow_port:
        ref = f"127.0.0.1:{slow_port}/tests/slow:cache"
        app = make_app(tmp_path, cache_ref=ref, builder=sandbox.buildkit_host)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("3")
            await settle(pilot)
            await pilot.press("t")
            checks = app.screen.query_one(RegistryChecks)
            for _ in range(100):  # wait until the slow part (HTTP through the proxy) is under way
                if "tls" in checks.checks:
                    break
                await pilot.pause(0.05)
            await pilot.press("escape")
            await settle(pilot, timeout=60)
            assert not checks.running
            assert any(c.skipped and "cancelled" in c.detail for c in checks.checks.values())
            assert "STOPPED" in str(app.screen.query_one("#checks-heading").render())
            assert str(app.screen.query_one("#registries-table", DataTable).get_row(ref)[3]) == "stopped"


async def test_a_build_uses_the_login_its_saved_ref_names(tmp_path, private_config, sandbox, sandbox_credential,
                                                          unique_ref, example_project):
    """The Registries screen tests a saved ref as the username saved on it; a build took the
    registry's newest login instead, so a ref tested OK as one account was built as another (here
    one with a wrong password: a cold build and a failed export)."""
    from railpack_tui.tui.widgets.registries_store import SavedRef, put_ref
    from test_tui_build_sandbox import until

    host = sandbox.registry
    credentials.remember(credentials.Credential(host, sandbox_credential.username, sandbox_credential.password))
    credentials.remember(credentials.Credential(host, "intruder", "not-the-password"))  # the newest login
    app = make_app(tmp_path, project=example_project, cache_ref=unique_ref, builder=sandbox.buildkit_host)
    put_ref(app.state.settings, SavedRef(unique_ref, sandbox_credential.username))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        job = app.start_build()
        await until(pilot, lambda: not job.running, "the build ends")
        assert [o.state for o in job.model.cache_export] == ["ok"], job.model.cache_export
        assert [o.state for o in job.model.cache_import] == ["not-found"]  # a fresh ref, not unauthorized
