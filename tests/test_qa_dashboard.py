"""Dashboard bugs found in a QA pass (state and settings; no builder needed)."""

from __future__ import annotations

import pytest


# The dashboard: a cache ref chosen for a project ("✓ kept for this project", saved in
# settings.json) came back as the sandbox's default ref at the next start whenever the sandbox
# ran, so the project silently built against another cache.
def _state_for(tmp_path, remembered_ref: str):
    from types import SimpleNamespace

    from railpack_tui.core.defaults import Setup
    from railpack_tui.tui.state import AppState, Settings

    project = tmp_path / "cache-demo"
    settings = Settings.load(tmp_path / "settings.json")
    settings.remember_project_settings(project, cache_ref=remembered_ref, builder=None, engine="buildkit",
                                       cache_mode="max")
    sandbox = SimpleNamespace(registry="127.0.0.1:45723")
    setup = Setup(project=project, builder="unix:///tmp/sbx/buildkitd.sock",
                  cache_ref="127.0.0.1:45723/railpack-tui/cache-demo:cache", sandbox=sandbox)
    return AppState.from_setup(setup, Settings.load(tmp_path / "settings.json"))


@pytest.mark.parametrize("remembered", ["registry.example.com/team/app:cache", "127.0.0.1:45723/qa/other:x",
                                        "registry.example.com/railpack-tui/cache-demo:cache"])
def test_the_cache_ref_chosen_for_a_project_survives_a_restart_with_the_sandbox(tmp_path, remembered):
    assert _state_for(tmp_path, remembered).cache_ref == remembered


def test_a_remembered_default_ref_of_an_earlier_sandbox_port_gives_way_to_the_current_one(tmp_path):
    state = _state_for(tmp_path, "127.0.0.1:40000/railpack-tui/cache-demo:cache")
    assert state.cache_ref == "127.0.0.1:45723/railpack-tui/cache-demo:cache"


# An unreachable builder the user set (not the sandbox, not BUILDKIT_HOST): its fix read "start
# buildkitd at that address, or pass another set the Builder on the Projects screen (key 2) to it".
def test_the_unreachable_builder_fix_reads_well_in_the_dashboard():
    from railpack_tui.core.builders import Builder, _fix_for
    from railpack_tui.tui.fixes import in_dashboard_terms

    fix = in_dashboard_terms(_fix_for(Builder(addr="unix:///nowhere/buildkitd.sock", source="flag")))
    assert fix == "start buildkitd at that address, or set another Builder on the Projects screen (key 2)"


# The builder was unreachable, so the build never started (no return code, no progress: the model
# ends "incomplete"): the Import and Export lines said "✗ failed" in red.
async def test_cache_phases_of_a_build_that_never_started_say_not_reached(tmp_path):
    from railpack_tui.core.model import BuildModel
    from tui_support import make_app

    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        model = BuildModel("rawjson")
        model.expect_cache(["registry.example:5000/team/x:cache"], ["registry.example:5000/team/x:cache"])
        model.finish(None)
        app.show_build(model)
        await pilot.pause()
        phases = str(app.screen.query_one("#phases").render())
        assert phases.count("not reached") == 2 and "failed" not in phases, phases
        assert app.screen.query_one("#cold").display is False


# Projects: Enter in an empty path box opened the directory railpack-tui was started from (".")
# as the project: it replaced the open project, switched its engine and joined the recent list.
async def test_enter_in_an_empty_path_box_keeps_the_project(tmp_path, monkeypatch):
    from textual.widgets import Input

    from railpack_tui.core import example
    from support.tui_fixtures import settle
    from tui_support import make_app

    project = example.prepare(tmp_path / "cache-demo")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "Dockerfile").write_text("FROM scratch\nCOPY Dockerfile /\n")
    monkeypatch.chdir(elsewhere)  # a project, so that opening "." would be accepted
    app = make_app(tmp_path, project=project, cache_ref=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        path = app.screen.query_one("#project-path", Input)
        path.value = "   "
        path.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert app.state.project == project
        assert str(elsewhere) not in app.state.settings.recent_projects


# Projects: the project the dashboard opened on (the bundled example, or --project) was never put
# in Recent, so after opening another project there was no way back to it from the Recent list.
def test_the_project_the_dashboard_opens_on_is_a_recent_project(tmp_path):
    state = _state_for(tmp_path, "registry.example.com/team/app:cache")
    assert str(tmp_path / "cache-demo") in state.settings.recent_projects


# Registries: a ref added on the sandbox registry with the sandbox's own username ("railpack") and
# a wrong password (to see the 401 the README promises) replaced the sandbox's generated password,
# in the keyring or in session memory: every ref of the sandbox, the project's included, then got
# 401, and deleting the added ref did not bring the sandbox's password back.
@pytest.mark.parametrize("with_keyring", [True, False], ids=["keyring", "session"])
async def test_a_typed_password_never_replaces_the_sandbox_accounts_own(tmp_path, monkeypatch, with_keyring):
    import keyring
    from keyring.backends import fail

    from railpack_tui.core import credentials
    from railpack_tui.core.sandbox import PASSWORD_FILE, SandboxInfo
    from railpack_tui.tui.screens.registries_form import RegistryForm
    from railpack_tui.tui.widgets.registries_store import SavedRef
    from support.memory_keyring import MemoryKeyring
    from support.tui_fixtures import settle
    from tui_support import make_app

    monkeypatch.setenv("RAILPACK_TUI_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("RAILPACK_TUI_SANDBOX_DIR", str(tmp_path / "no-sandbox"))
    before = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring() if with_keyring else fail.Keyring())
    sbx = tmp_path / "sbx"
    sbx.mkdir()
    (sbx / PASSWORD_FILE).write_text("the-sandbox-password")
    host = "127.0.0.1:45999"
    try:
        app = make_app(tmp_path, cache_ref=f"{host}/railpack-tui/cache-demo:cache")
        app.state.sandbox = SandboxInfo(dir=str(sbx), registry=host)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("3")
            await settle(pilot)
            app.screen.save_credential(RegistryForm(SavedRef(f"{host}/qa/wrong:x", "railpack"), "wrong-password",
                                                    session_only=not with_keyring))
            await settle(pilot)
            assert credentials._session_for(host, "railpack") is None
            if with_keyring:
                assert keyring.get_password(credentials.service_name(host), "railpack") is None
            assert any("sandbox" in str(n.message) for n in app._notifications)
    finally:
        keyring.set_keyring(before)
        credentials._session.clear()


# An unreachable tcp:// builder in the dashboard: the fix said "for TLS pass its client
# certificates with --tls-dir DIR", a flag the dashboard does not have (no field takes them).
def test_the_tcp_builder_fix_in_the_dashboard_does_not_name_a_missing_flag():
    from railpack_tui.core.builders import Builder, _fix_for
    from railpack_tui.tui.fixes import in_dashboard_terms

    fix = in_dashboard_terms(_fix_for(Builder(addr="tcp://127.0.0.1:1", source="flag")))
    assert fix.endswith("and for TLS: the dashboard cannot give the builder client certificates "
                        "(ca.pem, cert.pem, key.pem) yet, `railpack-tui build PATH --tls-dir DIR` can"), fix
    assert fix.startswith("check that buildkitd listens on that host and port"), fix


# t on another screen when the project has no cache ref (Projects: empty = no registry cache)
# tested whichever row of Registries happened to be highlighted, as if the build used it.
async def test_t_elsewhere_with_no_project_cache_ref_tests_nothing(tmp_path, monkeypatch):
    import keyring

    from railpack_tui.core import credentials
    from railpack_tui.tui.screens.registries import RegistriesScreen
    from railpack_tui.tui.widgets.registries_store import SavedRef, put_ref
    from support.memory_keyring import MemoryKeyring
    from support.tui_fixtures import settle
    from tui_support import make_app

    monkeypatch.setenv("RAILPACK_TUI_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("RAILPACK_TUI_SANDBOX_DIR", str(tmp_path / "no-sandbox"))
    before = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    try:
        app = make_app(tmp_path, cache_ref=None)
        put_ref(app.state.settings, SavedRef("127.0.0.1:5999/team/other:cache", ""))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("t")
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, RegistriesScreen)
            assert screen.testing is None and not screen.last_results, (screen.testing, screen.last_results)
            assert any("no cache ref" in str(n.message) for n in app._notifications)
    finally:
        keyring.set_keyring(before)
        credentials._session.clear()


# The builder kept for a project on Projects (e: "✓ kept for this project") was used when the
# project was opened from Projects, but ignored at the next start: the project silently built on
# the local sandbox instead.
def _state_with_builder(tmp_path, remembered_builder: str):
    from types import SimpleNamespace

    from railpack_tui.core.defaults import Setup
    from railpack_tui.tui.state import AppState, Settings

    project = tmp_path / "cache-demo"
    settings = Settings.load(tmp_path / "settings.json")
    settings.remember_project_settings(project, cache_ref=None, builder=remembered_builder, engine="buildkit",
                                       cache_mode="max")
    setup = Setup(project=project, builder="unix:///tmp/sbx/buildkitd.sock", cache_ref=None,
                  sandbox=SimpleNamespace(registry="127.0.0.1:45723"))
    return AppState.from_setup(setup, Settings.load(tmp_path / "settings.json"))


def test_the_builder_kept_for_a_project_is_used_at_the_next_start(tmp_path, monkeypatch):
    monkeypatch.delenv("BUILDKIT_HOST", raising=False)
    assert _state_with_builder(tmp_path, "tcp://buildkit.example:1234").builder == "tcp://buildkit.example:1234"


def test_a_kept_builder_gives_way_to_buildkit_host_and_a_socket_that_is_gone(tmp_path, monkeypatch):
    monkeypatch.delenv("BUILDKIT_HOST", raising=False)
    gone = f"unix://{tmp_path}/old-sandbox/buildkitd.sock"
    assert _state_with_builder(tmp_path, gone).builder == "unix:///tmp/sbx/buildkitd.sock"
    monkeypatch.setenv("BUILDKIT_HOST", "unix:///tmp/sbx/buildkitd.sock")
    assert _state_with_builder(tmp_path, "tcp://buildkit.example:1234").builder == "unix:///tmp/sbx/buildkitd.sock"


# Projects: a Dockerfile whose steps cannot be read ahead (an unterminated heredoc: BuildKit has
# the last word) was headed DOCKERFILE, but its tree said "no Dockerfile and no app Railpack
# recognises".
async def test_a_dockerfile_that_cannot_be_read_ahead_is_not_called_missing(tmp_path):
    from railpack_tui.tui.widgets.projects_detection import DetectionView
    from support.tui_fixtures import settle
    from tui_support import make_app

    project = tmp_path / "heredoc"
    project.mkdir()
    (project / "Dockerfile").write_text("FROM scratch\nCOPY x /\nRUN cat <<EOF\nhello\n")
    app = make_app(tmp_path, project=project, cache_ref=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        label = str(app.screen.query_one(DetectionView).root.label)
        assert "no Dockerfile" not in label and "Dockerfile" in label, label


# History: a build that ended before its cache import (a Dockerfile typo) was listed with its
# import in bold red "error", as if the registry had failed.
def test_history_lists_an_import_the_build_never_reached_as_not_reached():
    from types import SimpleNamespace

    from railpack_tui.core.model import NOT_IMPORTED
    from railpack_tui.tui.widgets.history_runs import import_text

    run = SimpleNamespace(no_import=False, cache_import=[{"ref": "r.example/x:y", "state": "error",
                                                          "detail": NOT_IMPORTED}])
    assert import_text(run).plain == "not reached"
    run.cache_import[0]["detail"] = "failed to configure registry cache importer: 500"
    assert import_text(run).plain == "error"


# Build screen: a build that failed before BuildKit reported any step (a Dockerfile error) said
# "● FAILED" in the status line but "No build yet. b builds ..." in the middle of the screen.
async def test_a_build_that_failed_before_any_step_does_not_say_no_build_yet(tmp_path):
    import json as _json

    from railpack_tui.core.model import BuildModel
    from tui_support import make_app

    model = BuildModel("rawjson")
    model.feed_line(_json.dumps({"vertexes": [{
        "digest": "sha256:aa", "name": "[internal] load build definition from Dockerfile",
        "started": "2026-12-04T16:00:00.000000000Z", "completed": "2026-12-04T16:00:00.100000000Z",
        "error": "failed to solve: dockerfile parse error on line 2: unknown instruction: RUNX"}]}).encode())
    model.feed_line(b"error: failed to solve: dockerfile parse error on line 2: unknown instruction: RUNX")
    model.finish(1)
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.show_build(model)
        await pilot.pause()
        await pilot.pause()
        empty = str(app.screen.query_one("#empty").render())
        assert "No build yet" not in empty, empty
        assert "failed before any step ran" in empty and "unknown instruction: RUNX" in empty, empty


def test_a_kept_builder_that_is_another_sandboxs_gives_way_to_this_runs(tmp_path, monkeypatch):
    """Every project setting change remembers the builder too, usually the sandbox's socket: one of
    another sandbox (another RAILPACK_TUI_SANDBOX_DIR, still running) is not taken over at start."""
    monkeypatch.delenv("BUILDKIT_HOST", raising=False)
    other = tmp_path / "other-sandbox"
    other.mkdir()
    (other / "sandbox.json").write_text("{}")
    (other / "buildkitd.sock").write_text("")
    assert _state_with_builder(tmp_path, f"unix://{other}/buildkitd.sock").builder == "unix:///tmp/sbx/buildkitd.sock"


# Projects: after a project was opened from the path box, the box kept the focus, so the next
# keys (1 for Build, b to build it) were typed into it instead.
async def test_keys_after_opening_a_project_from_the_path_box_reach_the_app(tmp_path):
    from textual.widgets import Input

    from railpack_tui.core import example
    from support.tui_fixtures import settle
    from tui_support import make_app

    first = example.prepare(tmp_path / "first")
    second = example.prepare(tmp_path / "second")
    app = make_app(tmp_path, project=first, cache_ref=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        path = app.screen.query_one("#project-path", Input)
        path.value = str(second)
        path.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert app.state.project == second.resolve()
        await pilot.press("1")
        await pilot.pause()
        assert app.current_mode == "build", (app.current_mode, path.value)


# Projects: opening a project whose remembered builder is a socket that is gone (an earlier
# sandbox's) made that dead builder the one to build on.
async def test_opening_a_project_with_a_gone_builder_keeps_the_current_one(tmp_path, monkeypatch):
    from railpack_tui.core import example
    from support.tui_fixtures import settle
    from tui_support import BUILDER, make_app

    monkeypatch.delenv("BUILDKIT_HOST", raising=False)
    first = example.prepare(tmp_path / "first")
    second = example.prepare(tmp_path / "second").resolve()
    app = make_app(tmp_path, project=first, cache_ref=None)
    app.state.settings.remember_project_settings(second, builder=f"unix://{tmp_path}/gone/buildkitd.sock")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        app.screen.open_path(second)
        await settle(pilot)
        assert app.state.project == second
        assert app.state.builder == BUILDER


# Projects: Enter in the Cache ref / Builder box kept the choice ("✓ kept for this project") but
# left the focus in the box, so 1 (Build) and b were typed into the ref.
async def test_keys_after_keeping_a_cache_ref_with_enter_reach_the_app(tmp_path):
    from textual.widgets import Input

    from railpack_tui.core import example
    from support.tui_fixtures import settle
    from tui_support import make_app

    project = example.prepare(tmp_path / "cache-demo")
    app = make_app(tmp_path, project=project, cache_ref=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        box = app.screen.query_one("#choice-cache-ref", Input)
        box.value = "registry.example.com/team/app:cache"
        box.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert app.state.cache_ref == "registry.example.com/team/app:cache"
        await pilot.press("1")
        await pilot.pause()
        assert app.current_mode == "build", (app.current_mode, box.value)


# 5 of 8 steps cached: the Build screen's meter said 62% (Python rounds halves to even) and the
# command line's report said 62.5%. Both now round to a whole percent, halves up: 63%.
async def test_the_hit_ratio_reads_the_same_in_the_dashboard_and_on_the_command_line(tmp_path):
    import re

    from railpack_tui.core.report import render_table
    from tui_support import make_app, replayed, show_replay

    model = replayed("file-change")
    summary = model.to_report()["summary"]
    assert (summary["cached"], summary["steps"]) == (5, 8)
    cli_line = next(ln for ln in render_table(model.to_report()).splitlines() if ln.startswith("8 steps:"))
    assert re.search(r"hit ratio (\S+%)", cli_line).group(1) == "63%", cli_line

    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_replay(pilot, "file-change")
        meter = str(app.screen.query_one("#meter").render())
        assert re.search(r"5/8 steps (\S+%)", meter).group(1) == "63%", meter


# A --no-import build: the Build screen's cache phases say "Import off", but History's import
# column said "none" (and the compare "cache import: none -> ok"). Both say "off" now.
async def test_a_no_import_build_reads_import_off_on_the_build_screen_and_in_history(tmp_path):
    from types import SimpleNamespace

    from railpack_tui.tui.widgets.cache_overview import CachePhases
    from railpack_tui.tui.widgets.history_diff import run_changes
    from railpack_tui.tui.widgets.history_runs import import_text
    from tui_support import make_app

    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        phases = CachePhases()
        await app.screen.mount(phases)
        phases.show(None, import_enabled=False, export_enabled=True, ref="127.0.0.1:5000/qa/app:cache")
        await pilot.pause()
        import_line = str(phases.render()).splitlines()[0]
    assert import_line.split() == ["Import", "off"], import_line

    def run(no_import, cache_import):
        return SimpleNamespace(no_import=no_import, cache_ref="127.0.0.1:5000/qa/app:cache", cache_import=cache_import,
                               engine="buildkit", mode="max", target=None, no_export=False, no_cache=False,
                               build_args={}, base_images={}, git_rev=None, git_dirty=None, context=lambda: {})
    cold = run(True, [])
    warm = run(False, [{"ref": "127.0.0.1:5000/qa/app:cache", "state": "ok", "detail": ""}])
    assert import_text(cold).plain == "off"
    assert import_text(SimpleNamespace(no_import=False, cache_ref=None, cache_import=[])).plain == "off"  # no ref
    assert "cache import: off → ok" in run_changes(cold, warm)
