"""The dashboard app: modes and keys, themes remembered, the command palette, central error
routing (never a traceback), the Build screen's filter, follow, copy and details, and the
Settings file. Builds that reach BuildKit are in test_tui_build_sandbox.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from railpack_tui.core.errors import EnvironmentProblem
from railpack_tui.tui.screens.build import BuildScreen
from railpack_tui.tui.screens.help import HelpScreen
from railpack_tui.tui.screens.step_details import StepDetailsScreen
from railpack_tui.tui.state import Settings
from tui_support import COMMAND, make_app, show_replay


def notifications(app) -> list[str]:
    return [n.message for n in app._notifications]


def table_states(app) -> list[str]:
    table = app.screen.query_one("#steps")
    return [table.get_row_at(i)[0].plain.split()[-1] for i in range(table.row_count)]


async def test_number_keys_switch_modes_and_help_opens_and_closes(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.current_mode == "build" and isinstance(app.screen, BuildScreen)
        for key, mode in (("2", "projects"), ("3", "registries"), ("4", "history"), ("1", "build")):
            await pilot.press(key)
            await pilot.pause()
            assert app.current_mode == mode
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, BuildScreen)


async def test_t_delegates_to_the_registries_screen(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("t")
        await pilot.pause()
        assert app.current_mode == "registries"


async def test_theme_key_cycles_and_the_choice_is_remembered(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.theme == "railpack-dark"
        await pilot.press("T")
        await pilot.pause()
        assert app.theme == "railpack-light"
    saved = json.loads((tmp_path / "settings.json").read_text())
    assert saved["theme"] == "railpack-light"
    again = make_app(tmp_path)
    async with again.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert again.theme == "railpack-light"


async def test_theme_flag_wins_over_the_remembered_theme(tmp_path):
    Settings(tmp_path / "settings.json").set("theme", "railpack-light")
    app = make_app(tmp_path, theme="railpack-contrast")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.theme == "railpack-contrast"


async def test_palette_offers_every_action(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        titles = {c.title for c in app.get_system_commands(app.screen)}
    for title in ("Build", "Rebuild", "Cancel build", "Test registry", "Help", "Next theme", "Go to Build",
                  "Go to Projects", "Go to Registries", "Go to History", "Theme: railpack-dark",
                  "Theme: railpack-light", "Theme: railpack-contrast", "Filter steps", "Copy command line",
                  "Step details", "Quit"):
        assert title in titles, title


async def test_palette_switches_the_theme(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Theme: railpack-contrast")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause()
        assert app.theme == "railpack-contrast"


async def test_unreachable_builder_is_a_notification_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.delenv("BUILDKIT_HOST", raising=False)
    project = tmp_path / "proj"
    project.mkdir()
    (project / "Dockerfile").write_text("FROM scratch\nCOPY Dockerfile /\n")
    app = make_app(tmp_path, project=project, builder=f"unix://{tmp_path}/no-such/buildkitd.sock",
                   cache_ref=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("b")
        job = app.state.current
        assert job is not None
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not job.running and job.outcome == "error"
        assert isinstance(job.error, EnvironmentProblem)
        assert any("Fix:" in m for m in notifications(app))
        empty = str(app.screen.query_one("#empty").render())
        assert "did not start" in empty
        assert app.is_running  # no crash


async def test_missing_dockerfile_is_reported_with_its_fix(tmp_path):
    project = tmp_path / "empty-project"
    project.mkdir()
    app = make_app(tmp_path, project=project)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("b")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.state.current.outcome == "error"
        assert any("Dockerfile" in m and "Fix:" in m for m in notifications(app))


async def test_unexpected_errors_go_to_the_crash_log_and_a_notification(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        app.report_error(ValueError("boom"), "loading")
        app.report_error(EnvironmentProblem("no keyring.", fix="install gnome-keyring"))
        await pilot.pause()
        messages = notifications(app)
    assert any("loading: unexpected ValueError: boom" in m and "crash.log" in m for m in messages)
    assert "no keyring.\nFix: install gnome-keyring" in messages


async def test_a_second_build_while_one_runs_is_refused(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await show_replay(pilot, "cold-empty-ref", 33)  # still running
        assert app.state.building
        assert app.start_build() is None
        await pilot.pause()
        assert any("already running" in m for m in notifications(app))


async def test_filter_shows_matching_steps_and_escape_clears_it(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_replay(pilot, "file-change")
        assert table_states(app) == ["CACHED"] * 5 + ["DONE"] * 3
        await pilot.press("slash", *"cached")
        await pilot.pause()
        assert table_states(app) == ["CACHED"] * 5
        await pilot.press("escape")
        await pilot.pause()
        assert len(table_states(app)) == 8


async def test_running_step_is_followed_until_the_user_moves(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_replay(pilot, "cold-empty-ref", 33)
        screen = app.screen
        step = screen.selected_step()
        assert step is not None and step.state == "running"
        logs = screen.query_one("#logs")
        assert step.name in logs.border_title
        await pilot.press("up")
        await pilot.pause()
        assert screen.follow is False
        assert screen.selected_step() is not step
        await pilot.press("escape")  # back to following
        await pilot.pause()
        assert screen.follow is True and screen.selected_step() is step


async def test_logs_follow_new_output_of_the_selected_step(tmp_path):
    from railpack_tui.tui.replay import replay
    from tui_support import stream

    lines = stream("cold-empty-ref").read_text().splitlines()
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        model = replay(stream("cold-empty-ref"), 33, finish=False)
        app.show_build(model)
        await pilot.pause()
        logs = app.screen.query_one("#logs")
        before = logs.line_count
        for line in lines[33:]:
            model.feed_line(line)
        model.finish(0)
        app.build_progress.publish((app.state.current, None))
        await pilot.pause()
        assert "resolving dependencies" in "\n".join(logs.lines)
        assert logs.line_count > before
        assert logs.lines.count("resolving dependencies") == 1  # appended, not rewritten twice


async def test_enter_opens_details_and_escape_goes_back(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_replay(pilot, "failing-step")
        assert app.screen.selected_step().state == "error"  # a failed build selects its failed step
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, StepDetailsScreen)
        info = str(app.screen.query_one("#details-info").render())
        assert "exit code: 3" in info
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, BuildScreen)


async def test_y_copies_the_command_line(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_replay(pilot, "warm-from-registry")
        await pilot.press("y")
        await pilot.pause()
        assert app.clipboard == COMMAND
        assert COMMAND in notifications(app)


async def test_command_line_before_any_build_comes_from_the_state(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        line = app.command_line_text
        assert "buildctl" in line and "registry.example:5000/team/cache-demo:cache" in line
        assert "--addr unix:///run/buildkit/buildkitd.sock" in line
        app.update_state(cache_mode="min")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "mode=min" in app.command_line_text


async def test_update_state_publishes_changes_and_remembers_per_project(tmp_path):
    app = make_app(tmp_path)
    heard: list[set[str]] = []
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        app.state_changed.subscribe(app.screen, heard.append, immediate=True)
        assert app.update_state(cache_ref="registry.example:5000/team/other:cache", engine="buildkit") == {"cache_ref"}
        assert app.update_state(cache_ref="registry.example:5000/team/other:cache") == set()
        with pytest.raises(AttributeError):
            app.update_state(nonsense=1)
    assert heard == [{"cache_ref"}]
    remembered = Settings.load(tmp_path / "settings.json").project_settings(Path("/home/dev/cache-demo"))
    assert remembered["cache_ref"] == "registry.example:5000/team/other:cache"


def test_unreadable_settings_give_defaults(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text("{not json")
    settings = Settings.load(path)
    assert settings.theme == "railpack-dark"
    settings.add_recent_project("/a")
    settings.add_recent_project("/b")
    settings.add_recent_project("/a")
    assert Settings.load(path).recent_projects == ["/a", "/b"]


def test_unknown_theme_is_bad_input():
    from railpack_tui.core.defaults import Setup
    from railpack_tui.core.errors import BadInput
    from railpack_tui.tui.app import run_app

    with pytest.raises(BadInput):
        run_app(Setup(project=Path("/tmp"), builder=None, cache_ref=None), theme="no-such-theme")


async def test_a_finished_build_selects_where_the_cache_broke(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_replay(pilot, "file-change")
        assert app.screen.selected_step().name == "[build 1/2] COPY src/ ./src/"
        assert "Cache broke at [build 1/2] COPY src/ ./src/" in str(app.screen.query_one("#root-misses").render())


async def test_an_export_the_build_never_reached_is_not_called_a_failure(tmp_path):
    from railpack_tui.tui.replay import replay
    from tui_support import stream

    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        model = replay(stream("cancelled"), returncode=1, export_refs=["registry.example:5000/team/x:cache"])
        app.show_build(model)
        await pilot.pause()
        phases = str(app.screen.query_one("#phases").render())
        assert "not reached" in phases and "failed" not in phases
        assert "CANCELLED" in str(app.screen.query_one("#status").render())


async def test_steps_take_the_focus_and_tab_moves_between_panes(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await show_replay(pilot, "file-change")
        assert app.focused is app.screen.query_one("#steps")
        await pilot.press("tab")
        await pilot.pause()
        assert app.focused is app.screen.query_one("#logs")
        await pilot.press("shift+tab")
        await pilot.pause()
        assert app.focused is app.screen.query_one("#steps")


async def test_warnings_are_shown(tmp_path):
    import base64
    import json

    from railpack_tui.tui.replay import replay
    from tui_support import stream

    model = replay(stream("warm-from-registry"), finish=False)
    vertex = model.steps[0].id
    short = base64.b64encode(b"FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 3)").decode()
    model.feed_line(json.dumps({"warnings": [{"vertex": vertex, "level": 1, "short": short, "detail": []}]}))
    model.finish(0)
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.show_build(model)
        await pilot.pause()
        panel = app.screen.query_one("#warnings")
        assert panel.display
        assert "1 warning: FromAsCasing" in str(panel.render())


async def test_palette_sets_build_options_for_the_next_build(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        commands["Engine: buildx"].callback()
        commands["Cache mode: min"].callback()
        commands["Toggle cache export"].callback()
        await pilot.pause()
        assert (app.state.engine, app.state.cache_mode, app.state.no_export) == ("buildx", "min", True)
        request = app.build_request()
        assert (request.engine, request.mode, request.no_export) == ("buildx", "min", True)


def test_an_unexpected_error_exits_with_one_line_and_the_crash_log(tmp_path):
    import asyncio

    from railpack_tui.core import crashlog

    app = make_app(tmp_path)

    async def main():
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            app.call_later(lambda: 1 / 0)
            await pilot.pause()

    with pytest.raises(ZeroDivisionError):
        asyncio.run(main())
    assert app.return_code == 1
    assert "ZeroDivisionError" in crashlog.log_path().read_text()


async def test_a_flood_of_events_is_coalesced_and_the_last_change_still_lands(tmp_path):
    import threading

    from railpack_tui.core.model import BuildModel
    from railpack_tui.core.runner import RunEvent
    from railpack_tui.tui import messages
    from railpack_tui.tui.state import BuildJob
    from tui_support import stream

    lines = stream("file-change").read_text().splitlines()
    app = make_app(tmp_path)
    posted: list = []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        model = BuildModel()
        job = BuildJob(request=None, model_override=model, handle=object(), outcome="running")
        app.state.current = job
        original_post = app.post_message
        app.post_message = lambda m: (posted.append(m) if isinstance(m, messages.BuildProgress) else None,
                                      original_post(m))[1]

        def worker():  # what the runner does: feed a line, report
            for line in lines:
                model.feed_line(line)
                app._on_run_event(job, RunEvent("progress", changes=model.drain_changes()))

        t = threading.Thread(target=worker)
        t.start()
        t.join()
        await pilot.pause()
        assert len(lines) > 40 and len(posted) < 10  # one snapshot per 1/30 s, not one per line
        # the last lines came inside the interval: the screen's tick takes them once it is quiet,
        # and the screen draws them at most FRAME_S after its last redraw
        assert app.take_quiet_snapshot(job, quiet_s=0)
        for _ in range(100):
            await pilot.pause(0.02)
            if table_states(app) == ["CACHED"] * 5 + ["DONE"] * 3:
                break
        assert table_states(app) == ["CACHED"] * 5 + ["DONE"] * 3
        assert not app.take_quiet_snapshot(job, quiet_s=0)  # nothing new since
