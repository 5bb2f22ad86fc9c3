"""The Projects screen: snapshots of a detected Dockerfile project (120x40 and 80x24), and pilot
tests of what a user does there: open a directory from the path input, see a non-project refused
with its fix, get a directory completed, keep a cache ref and builder (validated) for the project,
and find it again among the recent projects after a restart."""

from __future__ import annotations

import shutil

import pytest
from textual.widgets import Input, OptionList

from railpack_tui.tui.screens.projects import ProjectsScreen, ProjectTree
from railpack_tui.tui.widgets.projects_detection import DetectionView
from railpack_tui.tui.widgets.projects_path_input import complete_dir, tilde
from support.tui_fixtures import EXAMPLE, settle
from tui_support import BUILDER, FIXED_NOW, make_app

SIZES = {"120x40": (120, 40), "80x24": (80, 24)}


@pytest.fixture()
def home(tmp_path, monkeypatch):
    """$HOME with a copy of the example project in it, so paths render as ~/cache-demo."""
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("HOME", str(h))
    _copy_example(h / "cache-demo")
    (h / "notes").mkdir()
    (h / "notes" / "todo.txt").write_text("not a project\n")
    return h


@pytest.fixture()
def second(home):
    """A second copy of the example project, at ~/second."""
    return _copy_example(home / "second")


def _copy_example(dest):
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


async def _on_projects(pilot):
    await pilot.press("2")
    await settle(pilot)
    tree = pilot.app.screen.query_one(ProjectTree)
    for _ in range(200):  # the DirectoryTree loads its root in a worker of its own
        if tree.root.children:
            break
        await pilot.pause(0.02)
    await settle(pilot)


@pytest.mark.parametrize("size", ["120x40", "80x24"])
def test_detected_dockerfile(snap_compare, tmp_path, home, size):
    app = make_app(tmp_path, project=home / "cache-demo")
    assert snap_compare(app, terminal_size=SIZES[size], run_before=_on_projects)


async def test_detection_shows_stages_and_steps(tmp_path, home):
    app = make_app(tmp_path, project=home / "cache-demo")
    async with app.run_test(size=(120, 40)) as pilot:
        await _on_projects(pilot)
        screen = app.screen
        assert isinstance(screen, ProjectsScreen)
        tree = screen.query_one(DetectionView)
        stages = [str(n.label) for n in tree.root.children]
        assert [s.split()[0] for s in stages] == ["base", "deps", "build", "final"]
        build = tree.root.children[2]
        assert [str(n.label) for n in build.children] == ["1/2 COPY src/ ./src/",
                                                          '2/2 RUN echo "building 1.0.0"; sleep 1; cat src/*.txt > app.txt; echo "1.0.0" > version.txt']


async def test_open_from_path_input_makes_it_the_project(tmp_path, home, second):
    app = make_app(tmp_path, project=home / "cache-demo", cache_ref=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await _on_projects(pilot)
        path = app.screen.query_one("#project-path", Input)
        path.value = "~/second"
        path.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert app.state.project == second.resolve()
        assert app.screen.shown_path == second.resolve()
        assert str(second.resolve()) in app.state.settings.recent_projects


async def test_a_directory_without_a_project_is_refused_with_the_fix(tmp_path, home):
    app = make_app(tmp_path, project=home / "cache-demo")
    async with app.run_test(size=(120, 40)) as pilot:
        await _on_projects(pilot)
        app.screen.open_path(home / "notes")
        await settle(pilot)
        assert app.state.project == home / "cache-demo"  # unchanged
        heading = str(app.screen.query_one("#project-heading").render())
        assert "has no Dockerfile and nothing Railpack recognises" in heading
        assert "Fix: add a Dockerfile" in heading


def test_complete_dir(home):
    assert complete_dir(str(home) + "/cach") == str(home) + "/cache-demo/"
    assert complete_dir("~/no") == "~/notes/"
    assert complete_dir("~/cache-demo/s") == "~/cache-demo/src/"
    assert complete_dir("~/cache-demo/") is None  # nothing typed yet
    assert complete_dir("~/zzz") is None
    assert tilde(home / "cache-demo") == "~/cache-demo"
    assert tilde("/etc") == "/etc"


async def test_path_input_suggests_a_completion(tmp_path, home):
    app = make_app(tmp_path, project=home / "cache-demo")
    async with app.run_test(size=(120, 40)) as pilot:
        await _on_projects(pilot)
        await pilot.press("slash")
        path = app.screen.query_one("#project-path", Input)
        path.value = ""
        await pilot.press(*"~/no")
        await pilot.pause(0.2)
        await pilot.press("right")  # accept the suggestion
        await pilot.pause()
        assert path.value == "~/notes/"


async def test_cache_ref_and_builder_are_validated_and_kept(tmp_path, home):
    project = home / "cache-demo"
    app = make_app(tmp_path, project=project)
    async with app.run_test(size=(120, 40)) as pilot:
        await _on_projects(pilot)
        ref = app.screen.query_one("#choice-cache-ref", Input)
        ref.focus()
        ref.value = "https://registry.example.com/team/app:cache"
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        problem = str(app.screen.query_one("#choice-problem").render())
        assert "URL scheme" in problem and "leave out" in problem
        assert app.state.cache_ref != ref.value  # not kept while invalid

        ref.value = "registry.example.com/team/app:cache"
        app.screen.query_one("#choice-builder", Input).value = "tcp://buildkit.internal:1234"
        await pilot.pause()
        assert "Fix:" not in str(app.screen.query_one("#choice-problem").render())
        await pilot.press("enter")
        await pilot.pause()
        assert "kept for this project" in str(app.screen.query_one("#choice-problem").render())
        assert app.state.cache_ref == "registry.example.com/team/app:cache"
        assert app.state.builder == "tcp://buildkit.internal:1234"
        kept = app.state.settings.project_settings(project)
        assert kept["cache_ref"] == "registry.example.com/team/app:cache"


async def test_recent_projects_survive_a_restart(tmp_path, home, second):
    app = make_app(tmp_path, project=home / "cache-demo")
    async with app.run_test(size=(120, 40)) as pilot:
        await _on_projects(pilot)
        app.screen.open_path(second)
        await settle(pilot)
    again = make_app(tmp_path, project=home / "cache-demo")
    async with again.run_test(size=(120, 40)) as pilot:
        await _on_projects(pilot)
        recent = again.screen.query_one("#project-recent", OptionList)
        ids = [recent.get_option_at_index(i).id for i in range(recent.option_count)]
        assert str(second.resolve()) in ids
        recent.focus()
        recent.highlighted = ids.index(str(second.resolve()))
        await pilot.press("enter")
        await settle(pilot)
        assert again.state.project == second.resolve()


PLAN = """{
 "steps": [
  {"name": "install", "inputs": [{"image": "registry.example.com/base/busybox:1"}, {"local": true, "include": ["requirements.txt"]}],
   "commands": [{"cmd": "sh -c 'sort requirements.txt > resolved.txt'", "customName": "resolve dependencies"}]},
  {"name": "build", "inputs": [{"step": "install"}, {"local": true, "include": ["src"]}],
   "commands": [{"src": "src", "dest": "/app/src"}, {"cmd": "sh -c 'cat src/*.txt > app.txt'", "customName": "build app"}]}
 ],
 "deploy": {"base": {"image": "registry.example.com/base/busybox:1"}, "startCommand": "cat /app/app.txt"}
}
"""


@pytest.fixture()
def railpack_app(home):
    app_dir = home / "py-app"
    (app_dir / "src").mkdir(parents=True)
    (app_dir / "requirements.txt").write_text("flask\n")
    (app_dir / "src" / "main.txt").write_text("hello\n")
    (app_dir / "railpack-plan.json").write_text(PLAN)
    return app_dir


def test_detected_railpack_app_with_its_plan(snap_compare, tmp_path, railpack_app):
    app = make_app(tmp_path, project=railpack_app)
    assert snap_compare(app, terminal_size=(120, 40), run_before=_on_projects)


async def test_railpack_plan_steps_are_shown(tmp_path, railpack_app):
    app = make_app(tmp_path, project=railpack_app)
    async with app.run_test(size=(120, 40)) as pilot:
        await _on_projects(pilot)
        tree = app.screen.query_one(DetectionView)
        labels = []

        def walk(node):
            labels.append(str(node.label))
            for child in node.children:
                walk(child)

        walk(tree.root)
        assert "requirements.txt  Python" in labels
        assert any(label.startswith("resolve dependencies") for label in labels)
        assert "COPY src → /app/src" in labels and "start cat /app/app.txt" in labels
        assert app.state.project == railpack_app


async def test_p_on_a_dockerfile_project_says_what_it_is_for(tmp_path, home):
    app = make_app(tmp_path, project=home / "cache-demo")
    async with app.run_test(size=(120, 40)) as pilot:
        await _on_projects(pilot)
        await pilot.press("p")
        await pilot.pause()
        assert any("for Railpack apps" in str(n.message) for n in app._notifications)


async def test_enter_on_a_directory_in_the_tree_opens_it(tmp_path, home, second):
    app = make_app(tmp_path, project=home / "cache-demo")
    async with app.run_test(size=(120, 40)) as pilot:
        await _on_projects(pilot)
        tree = app.screen.query_one(ProjectTree)
        tree.focus()
        names = [n.data.path.name for n in tree.root.children]
        tree.move_cursor(tree.root.children[names.index("second")])
        await pilot.press("enter")
        await settle(pilot)
        assert app.state.project == second.resolve()
        assert app.screen.query_one("#project-path", Input).value == "~/second/"


async def _open(pilot, path) -> None:
    pilot.app.screen.open_path(path)
    await settle(pilot)


async def test_the_engine_goes_with_the_project(tmp_path, home, railpack_app):
    """A Railpack app builds with the railpack engine, a Dockerfile project with buildkit, and a
    project's remembered engine wins. Before: the dashboard opened on a Railpack app with buildkit
    ("no Dockerfile ... use --engine railpack"), and switching projects kept the previous engine."""
    app = make_app(tmp_path, project=railpack_app)
    assert app.state.engine == "railpack"
    async with app.run_test(size=(120, 40)) as pilot:
        await _on_projects(pilot)
        await _open(pilot, home / "cache-demo")
        assert app.state.project == (home / "cache-demo").resolve() and app.state.engine == "buildkit"
        app.update_state(engine="buildx")  # chosen in the palette: remembered for this project
        await _open(pilot, railpack_app)
        assert app.state.engine == "railpack"
        await _open(pilot, home / "cache-demo")
        assert app.state.engine == "buildx"
    # a Railpack app remembered with buildkit (what the dashboard saved before this fix) still gets
    # railpack: buildkit cannot build it without a Dockerfile
    app.state.settings.remember_project_settings(railpack_app, engine="buildkit")
    assert make_app(tmp_path, project=railpack_app).state.engine == "railpack"


async def test_keeping_choices_on_a_directory_without_a_project_does_not_open_it(tmp_path, home):
    """A directory the screen has just refused (no Dockerfile, no Railpack app) stays refused when
    "Use for this project" is pressed under it. Before: it became the open project (and a recent
    one), replacing the one that builds, and b then failed with "no Dockerfile"."""
    project = home / "cache-demo"
    app = make_app(tmp_path, project=project)
    async with app.run_test(size=(120, 40)) as pilot:
        await _on_projects(pilot)
        await _open(pilot, home / "notes")
        app.screen.query_one("#choice-cache-ref", Input).value = "registry.example.com/team/notes:cache"
        await pilot.pause()
        app.screen.query_one("#choice-save").press()
        await settle(pilot)
        assert app.state.project == project
        assert app.state.cache_ref != "registry.example.com/team/notes:cache"
        assert str((home / "notes").resolve()) not in app.state.settings.recent_projects
        said = [n.message for n in app._notifications]
        assert any("nothing to build" in m and "open a directory" in m for m in said), said


def _app_offering_a_sandbox_ref(tmp_path, project):
    """The dashboard as started with a sandbox running: every project is offered the sandbox's
    ref (REGISTRY/railpack-tui/NAME:cache) unless one was kept for it."""
    from types import SimpleNamespace

    from railpack_tui.core.defaults import Setup, sandbox_cache_ref
    from railpack_tui.tui.app import RailpackTUI
    from railpack_tui.tui.state import Settings

    sandbox = SimpleNamespace(registry="127.0.0.1:45723")
    setup = Setup(project=project, builder=BUILDER, cache_ref=sandbox_cache_ref(sandbox, project), sandbox=sandbox)
    return RailpackTUI(setup, settings=Settings.load(tmp_path / "settings.json"), clock=lambda: FIXED_NOW)


async def test_a_cleared_cache_ref_survives_a_restart(tmp_path, home, second):
    """Projects: an empty Cache ref box means no registry cache. It was saved as null, which the
    next start (and opening the project again) read as "never chosen": the sandbox's ref again."""
    import json

    project = home / "cache-demo"
    default = "127.0.0.1:45723/railpack-tui/cache-demo:cache"
    app = _app_offering_a_sandbox_ref(tmp_path, project)
    assert app.state.cache_ref == default
    async with app.run_test(size=(120, 40)) as pilot:
        await _on_projects(pilot)
        ref = app.screen.query_one("#choice-cache-ref", Input)
        ref.focus()
        ref.value = ""
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        assert app.state.cache_ref is None
        app.update_state(engine="buildkit", cache_mode="min")  # a later change must not forget the clearing
        await settle(pilot)

    again = _app_offering_a_sandbox_ref(tmp_path, project)  # the same settings file
    assert again.state.cache_ref is None and again.state.cache_mode == "min"
    async with again.run_test(size=(120, 40)) as pilot:
        await _on_projects(pilot)
        assert again.screen.query_one("#choice-cache-ref", Input).value == ""
        again.screen.open_path(second)  # another project (it gets the sandbox's ref), then this one again
        await settle(pilot)
        assert again.state.project == second and again.state.cache_ref == default.replace("cache-demo", "second")
        again.screen.open_path(project)
        await settle(pilot)
        assert again.state.project == project and again.state.cache_ref is None

    # a settings file from before (null: never chosen) still starts with the default ref
    (tmp_path / "settings.json").write_text(json.dumps({"projects": {str(project): {"cache_ref": None}}}))
    assert _app_offering_a_sandbox_ref(tmp_path, project).state.cache_ref == default
