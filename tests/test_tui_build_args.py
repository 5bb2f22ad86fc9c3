"""Build args from the dashboard: `a` (Build, Projects) or "Set build args…" in the command palette
opens an editor of NAME=VALUE lines. Saving puts them in the next build's request and remembers
them for the project; a bad line is refused with its fix and changes nothing; Esc changes nothing.
Against the sandbox: an arg changed in the editor makes the next build's RUN miss with
build-arg-changed."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from textual.widgets import Static, TextArea

from railpack_tui.tui.screens.build import BuildScreen
from railpack_tui.tui.screens.build_args import BuildArgsScreen
from railpack_tui.tui.screens.projects import ProjectsScreen
from railpack_tui.tui.state import Settings
from support.faults import until
from support.tui_fixtures import EXAMPLE, settle
from tui_support import PROJECT, make_app


def notifications(app) -> list[str]:
    return [n.message for n in app._notifications]


async def open_editor(pilot, key: str = "a") -> BuildArgsScreen:
    await pilot.press(key)
    await pilot.pause()
    assert isinstance(pilot.app.screen, BuildArgsScreen)
    return pilot.app.screen


async def type_lines(pilot, text: str) -> None:
    area = pilot.app.screen.query_one("#args-text", TextArea)
    area.focus()
    area.clear()
    for ch in text:
        await pilot.press("enter" if ch == "\n" else ch)
    await pilot.pause()


def problem(app) -> str:
    return str(app.screen.query_one("#args-problem", Static).render())


async def test_saved_args_go_into_the_next_build_and_are_remembered(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await open_editor(pilot)
        await type_lines(pilot, "APP_VERSION=2.0.0\n\nGREETING=hello = world")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, BuildScreen)
        assert app.state.build_args == {"APP_VERSION": "2.0.0", "GREETING": "hello = world"}
        assert app.build_request().build_args == {"APP_VERSION": "2.0.0", "GREETING": "hello = world"}
        assert "Next build: build args APP_VERSION, GREETING (b builds)." in notifications(app)
        # the notification names the args, never their values
        assert not any("2.0.0" in m or "hello" in m for m in notifications(app))
        # the editor opens again on what was saved
        editor = await open_editor(pilot)
        assert editor.query_one("#args-text", TextArea).text == "APP_VERSION=2.0.0\nGREETING=hello = world\n"
    kept = json.loads((tmp_path / "settings.json").read_text())
    assert kept["projects"][str(PROJECT)]["build_args"] == {"APP_VERSION": "2.0.0", "GREETING": "hello = world"}
    # a new dashboard on the same project starts with them
    again = make_app(tmp_path)
    assert again.state.build_args == {"APP_VERSION": "2.0.0", "GREETING": "hello = world"}


@pytest.mark.parametrize("text, words", [
    ("APP_VERSION", ["Line 1 ('APP_VERSION') has no value.", "NAME=VALUE"]),
    ("OK=1\nMY VAR=2", ["Line 2: bad build-arg name 'MY VAR'.", "no spaces"]),
    ("APP_VERSION = 2", ["Line 1: bad build-arg name 'APP_VERSION '.", "none around the ="]),
    ("=2", ["Line 1: bad build-arg name ''.", "not empty"]),
    ("A=1\nB=2\nA=3", ["Line 3: A is already set on line 1.", "keep one"]),
])
async def test_a_bad_line_is_refused_with_its_fix_and_nothing_changes(tmp_path, text, words):
    app = make_app(tmp_path)
    app.state.build_args = {"KEPT": "yes"}
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await open_editor(pilot)
        await type_lines(pilot, text)
        await pilot.click("#args-save")
        await pilot.pause()
        assert isinstance(app.screen, BuildArgsScreen)  # still open, to fix the line
        shown = problem(app)
        for word in words + ["Fix:"]:
            assert word in shown, (word, shown)
        assert app.state.build_args == {"KEPT": "yes"}
        # typing clears the complaint; a fixed text saves
        await type_lines(pilot, "FIXED=1")
        assert problem(app) == ""
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.state.build_args == {"FIXED": "1"}


async def test_escape_cancels_and_keeps_the_args(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await open_editor(pilot)
        await type_lines(pilot, "APP_VERSION=9")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, BuildScreen)
        assert app.state.build_args == {}
        assert not any("Next build" in m for m in notifications(app))
    assert "build_args" not in Settings.load(tmp_path / "settings.json").project_settings(PROJECT)


async def test_empty_editor_clears_the_args(tmp_path):
    app = make_app(tmp_path)
    app.state.build_args = {"APP_VERSION": "2"}
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await open_editor(pilot)
        await type_lines(pilot, "")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.state.build_args == {}
        assert "Next build: build args none (b builds)." in notifications(app)


async def test_palette_entry_and_projects_key_open_it_with_the_declared_args(tmp_path):
    project = tmp_path / "cache-demo"
    project.mkdir()
    shutil.copy(EXAMPLE / "Dockerfile", project / "Dockerfile")
    app = make_app(tmp_path, project=project)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        commands["Set build args…"].callback()
        await pilot.pause()
        assert isinstance(app.screen, BuildArgsScreen)
        assert "Declared in the Dockerfile: APP_VERSION" in str(app.screen.query_one("#args-declared", Static).render())
        await pilot.press("escape")
        await pilot.press("2")
        await settle(pilot)
        assert isinstance(app.screen, ProjectsScreen)
        app.screen.query_one("#project-tree").focus()
        await open_editor(pilot)
        await type_lines(pilot, "APP_VERSION=3")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.state.build_args == {"APP_VERSION": "3"}


async def test_each_project_keeps_its_own_args_and_old_settings_still_load(tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "Dockerfile").write_text("FROM scratch\nCOPY Dockerfile /\n")
    # a settings file from before build args were kept, and one with a hand-edited bad entry
    (tmp_path / "settings.json").write_text(json.dumps({"projects": {
        str(PROJECT): {"cache_mode": "min", "build_args": {"BAD NAME": "1"}},
        str(other): {"engine": "buildkit"}}}))
    app = make_app(tmp_path)
    assert app.state.cache_mode == "min" and app.state.build_args == {}
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.update_state(build_args={"APP_VERSION": "2"})
        await pilot.press("2")
        await settle(pilot)
        app.screen.open_path(other)
        await settle(pilot)
        assert app.state.project == other
        assert app.state.build_args == {}  # not the other project's
    kept = Settings.load(tmp_path / "settings.json")
    assert kept.project_settings(PROJECT)["build_args"] == {"APP_VERSION": "2"}


def test_editor_snapshot(snap_compare, tmp_path):
    async def run_before(pilot):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        await type_lines(pilot, "APP_VERSION=2.0.0\nMY VAR=1")
        await pilot.press("ctrl+s")
        await pilot.pause()

    app = make_app(tmp_path)
    app.state.build_args = {"APP_VERSION": "1.0.0"}
    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


# --- against the sandbox ------------------------------------------------------------------------

@pytest.mark.sandbox
@pytest.mark.slow
async def test_an_arg_changed_in_the_editor_makes_the_next_build_miss_with_build_arg_changed(
        sandbox, example_project, unique_ref, tmp_path):
    app = make_app(tmp_path, project=example_project, builder=sandbox.buildkit_host, cache_ref=unique_ref)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await open_editor(pilot)
        await type_lines(pilot, "APP_VERSION=1.0.0")
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.press("b")
        first = app.state.current
        await until(pilot, lambda: not first.running, "the first build ends", limit=1200)
        assert first.outcome == "success", (first.error, first.model.error)
        assert first.request.build_args == {"APP_VERSION": "1.0.0"}

        await open_editor(pilot)
        changed = f"2.0.0-{unique_ref.rsplit(':', 1)[-1]}"  # a value no earlier build used
        await type_lines(pilot, f"APP_VERSION={changed}")
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.press("b")
        second = app.state.current
        assert second is not first
        await until(pilot, lambda: not second.running, "the second build ends", limit=1200)
        await pilot.pause()
        assert second.outcome == "success", (second.error, second.model.error)
        assert second.request.build_args == {"APP_VERSION": changed}
        names = [s.name for s in second.model.steps]
        run = next((s for s in second.model.steps if "RUN" in s.name and "building" in s.name), None)
        assert run is not None, names
        assert run.state == "executed"
        assert run.miss is not None and run.miss["kind"] == "build-arg-changed", run.miss
        assert run.miss["args"] == ["APP_VERSION"]


async def test_a_value_holding_a_known_registry_password_is_refused(tmp_path):
    """Saved args are kept in settings.json: a password this process has built with must not go there."""
    from railpack_tui.core import masking

    secret = "pw-" + os.urandom(8).hex()
    masking.remember([secret])
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await open_editor(pilot)
        await type_lines(pilot, f"OK=1\nTOKEN=x{secret}x")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, BuildArgsScreen)
        shown = problem(app)
        assert "Line 2: TOKEN holds the password" in shown and "type=secret" in shown and secret not in shown
        assert app.state.build_args == {}
    settings = tmp_path / "settings.json"
    assert not settings.exists() or secret not in settings.read_text()
