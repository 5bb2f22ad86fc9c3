"""Bad input in the dashboard, on a 40x10 terminal: corrupt settings, a corrupt registries index
and history database, a project without a Dockerfile, a bad cache ref, no builder, and garbage
progress streams on the Build screen. Every screen still opens and answers keys, problems come as
notifications that name the fix, and nothing unexpected is raised (no crash log, no "Unexpected
error" notification)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from railpack_tui.core import crashlog
from railpack_tui.core.defaults import Setup
from railpack_tui.tui.app import RailpackTUI
from railpack_tui.tui.replay import replay
from railpack_tui.tui.state import AppState, Settings
from support.tui_fixtures import settle

SIZE = (40, 10)
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "tui"
SCREENS = {"1": "BuildScreen", "2": "ProjectsScreen", "3": "RegistriesScreen", "4": "HistoryScreen"}


@pytest.fixture()
def broken(tmp_path, monkeypatch):
    """Private dirs holding a corrupt settings file, registries index and history database; no
    builder anywhere."""
    for name in ("config", "data", "state", "sandbox"):
        (tmp_path / name).mkdir()
        monkeypatch.setenv(f"RAILPACK_TUI_{name.upper()}_DIR", str(tmp_path / name))
    monkeypatch.delenv("BUILDKIT_HOST", raising=False)
    (tmp_path / "config" / "settings.json").write_text('{"theme": 42, "recent_projects": "nope", "projects": [1')
    (tmp_path / "config" / "credentials.json").write_text("{broken")
    (tmp_path / "data" / "history.sqlite3").write_bytes(b"SQLite format 3\x00" + os.urandom(3000))
    project = tmp_path / "no-dockerfile"
    project.mkdir()
    (project / "main.go").write_text("package main\n")
    return tmp_path, project


def make(tmp: Path, project: Path, cache_ref: str | None, builder: str | None = None) -> RailpackTUI:
    settings = Settings.load(tmp / "config" / "settings.json")
    return RailpackTUI(Setup(project=project, builder=builder, cache_ref=cache_ref, notices=[]), settings=settings,
                       clock=lambda: 1_800_000_000.0)


def messages(app) -> list[str]:
    return [n.message for n in app._notifications]


def assert_no_crash(app) -> None:
    titles = [n.title for n in app._notifications]
    assert "Unexpected error" not in titles, messages(app)
    assert not crashlog.log_path().exists(), crashlog.log_path().read_text()
    text = app.export_screenshot()
    assert "Traceback" not in text


async def visit_every_screen(pilot) -> None:
    app = pilot.app
    for key, name in SCREENS.items():
        await pilot.press(key)
        await settle(pilot)
        assert type(app.screen).__name__ == name
    await pilot.press("question_mark")
    await pilot.pause()
    assert type(app.screen).__name__ == "HelpScreen"
    await pilot.press("escape")
    await pilot.press("1")
    await pilot.pause()


async def test_corrupt_config_and_history_at_40x10(broken):
    tmp, project = broken
    app = make(tmp, project, cache_ref="127.0.0.1:1/team/app:cache")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.theme == "railpack-dark"  # a non-string theme in the settings is ignored
        await visit_every_screen(pilot)
        assert app.is_running
        assert_no_crash(app)
        # the broken settings are said and kept aside, not silently written over by the next change
        text = " ".join(messages(app))
        assert "settings file" in text and "is not JSON" in text and "set aside" in text, text
        await pilot.press("T")  # a change the dashboard saves at once
        await settle(pilot)
    [aside] = (tmp / "config").glob("settings.json.broken-*")
    assert aside.read_text().startswith('{"theme": 42, "recent_projects": "nope"')


async def test_build_without_a_dockerfile_names_the_fix(broken):
    tmp, project = broken
    app = make(tmp, project, cache_ref=None, builder="unix:///nonexistent/buildkitd.sock")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        text = " ".join(messages(app))
        assert "Dockerfile" in text and "Fix:" in text, text
        assert 'pick "Engine: railpack" in the command palette' in text and "--engine" not in text, text
        assert not app.state.building
        await visit_every_screen(pilot)
        assert_no_crash(app)


async def test_bad_cache_ref_and_no_builder(broken):
    tmp, project = broken
    (project / "Dockerfile").write_text("FROM scratch\n")
    app = make(tmp, project, cache_ref="Not A Ref")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        text = " ".join(messages(app))
        assert "space" in text and "Fix:" in text, text
        app.update_state(cache_ref=None)
        await pilot.press("b")
        await settle(pilot)
        job = app.state.current
        if job is not None:  # the build started and stopped at the builder check
            assert not job.running
        text = " ".join(messages(app))
        assert "no builder" in text and "sandbox up" in text, text
        await pilot.press("4")
        await settle(pilot)
        assert type(app.screen).__name__ == "HistoryScreen"
        assert_no_crash(app)


@pytest.mark.parametrize("content", [
    b"",
    b"garbage\n\x00\xff\xfe{{{\n[1,2,3]\nerror: something\n",
    b'{"vertexes": "x", "statuses": [null, 5], "logs": [{"vertex": 1, "data": "!!"}]}\n'
    b'{"vertexes": [{"digest": "sha256:a", "name": "[1/1] RUN x", "started": "bad", "completed": 5}]}\n',
    (FIXTURES / "failing-step.rawjson.jsonl").read_bytes()[:3000],
], ids=["empty", "garbage", "odd-types", "truncated"])
async def test_garbage_streams_on_the_build_screen(broken, content):
    tmp, project = broken
    stream = tmp / "stream.jsonl"
    stream.write_bytes(content)
    app = make(tmp, project, cache_ref=None)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        model = replay(stream)
        assert model.status != "success" or model.steps
        app.show_build(model)
        await pilot.pause()
        await pilot.press("down", "enter")
        await pilot.pause()
        await pilot.press("escape", "slash", "x", "escape", "question_mark")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        assert_no_crash(app)


@pytest.mark.parametrize("content, words, set_aside", [
    (b"[1, 2, 3]", "is not a JSON object", True),
    (b"\x00\xff\xfe garbage", "is not JSON", True),
    (None, "cannot be read", False),  # a directory where the file goes: nothing to set aside
    (b'{"theme": "railpack-light"}', None, False),
], ids=["list", "binary", "directory", "fine"])
def test_unusable_settings_are_said_once_and_kept(tmp_path, content, words, set_aside):
    path = tmp_path / "settings.json"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    settings = Settings.load(path)
    if words is None:
        assert settings.notice is None and settings.theme == "railpack-light"
        return
    assert words in settings.notice and "Fix:" in settings.notice, settings.notice
    aside = list(tmp_path.glob("settings.json.broken-*"))
    assert [p.read_bytes() for p in aside] == ([content] if set_aside else [])
    state = AppState.from_setup(Setup(project=None, builder=None, cache_ref=None, notices=[]), settings)
    assert state.notices == [settings.notice]
    if set_aside:  # said once: the next start finds no file and uses the defaults quietly
        assert Settings.load(path).notice is None


async def test_a_why_text_that_looks_like_markup_is_shown_as_text(broken):
    """An exec-form RUN edited between builds gives a miss like `command-changed: ... 'RUN ["sh",
    "-c", "echo a=1"]' -> ...`: the logs pane's subtitle parsed it as Textual markup and the
    MarkupError ended the dashboard as soon as the step was highlighted."""
    tmp, project = broken
    model = replay(FIXTURES / "file-change.rawjson.jsonl")
    detail = "the instruction changed since build #1: 'RUN [\"sh\", \"-c\", \"echo a=1\"]' -> 'RUN [\"sh\", \"-c\", \"echo a=***\"]'"
    for step in model.steps:
        step.miss = {"kind": "command-changed", "detail": detail, "files": []}
    app = make(tmp, project, cache_ref=None)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        app.show_build(model)
        await pilot.pause()
        await pilot.press("down", "down")
        await settle(pilot)
        assert app.is_running
        assert_no_crash(app)
        from railpack_tui.tui.widgets.step_logs import StepLogs

        subtitle = str(app.screen.query_one("#logs", StepLogs).border_subtitle)
        assert "echo a=1" in subtitle and "a=***" in subtitle, subtitle
