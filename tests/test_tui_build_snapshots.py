"""Snapshots of the Build screen, fed from recorded BuildKit streams (tests/fixtures/tui) with a
fixed clock: empty, running (mid-stream), warm, cold after a 401 on import, a first build into an
empty ref, a failed step, a cancelled build; at 120x40 and at 80x24 for the main ones."""

from __future__ import annotations

import pytest

from tui_support import FILE_CHANGE_MISSES, make_app, show_replay

SIZES = {"120x40": (120, 40), "80x24": (80, 24)}


def _run(name, upto=None, keys=()):
    misses = FILE_CHANGE_MISSES if name == "file-change" else None

    async def run_before(pilot):
        await show_replay(pilot, name, upto, misses)
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        await pilot.pause()

    return run_before


async def _idle(pilot):
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


@pytest.mark.parametrize("size", ["120x40", "80x24"])
def test_empty(snap_compare, tmp_path, size):
    assert snap_compare(make_app(tmp_path), terminal_size=SIZES[size], run_before=_idle)


@pytest.mark.parametrize("size", ["120x40", "80x24"])
def test_running_mid_stream(snap_compare, tmp_path, size):
    # cut while `[deps 3/3] RUN ...` runs: spinner, running time, steps still waiting
    assert snap_compare(make_app(tmp_path), terminal_size=SIZES[size], run_before=_run("cold-empty-ref", 33))


@pytest.mark.parametrize("size", ["120x40", "80x24"])
def test_warm_from_registry(snap_compare, tmp_path, size):
    assert snap_compare(make_app(tmp_path), terminal_size=SIZES[size], run_before=_run("warm-from-registry"))


@pytest.mark.parametrize("size", ["120x40", "80x24"])
def test_cold_after_import_401(snap_compare, tmp_path, size):
    assert snap_compare(make_app(tmp_path), terminal_size=SIZES[size], run_before=_run("import-unauthorized"))


def test_first_build_into_empty_ref(snap_compare, tmp_path):
    assert snap_compare(make_app(tmp_path), terminal_size=(120, 40), run_before=_run("cold-empty-ref"))


@pytest.mark.parametrize("size", ["120x40", "80x24"])
def test_failed_step(snap_compare, tmp_path, size):
    assert snap_compare(make_app(tmp_path), terminal_size=SIZES[size], run_before=_run("failing-step"))


def test_file_change_partial_hit(snap_compare, tmp_path):
    assert snap_compare(make_app(tmp_path), terminal_size=(120, 40), run_before=_run("file-change"))


def test_cancelled(snap_compare, tmp_path):
    assert snap_compare(make_app(tmp_path), terminal_size=(120, 40), run_before=_run("cancelled"))


def test_export_unauthorized(snap_compare, tmp_path):
    assert snap_compare(make_app(tmp_path), terminal_size=(120, 40), run_before=_run("export-unauthorized"))


def test_large_terminal(snap_compare, tmp_path):
    assert snap_compare(make_app(tmp_path), terminal_size=(200, 60), run_before=_run("file-change"))


def test_step_details(snap_compare, tmp_path):
    # the failed step is selected after a failed build; Enter opens its details
    assert snap_compare(make_app(tmp_path), terminal_size=(120, 40), run_before=_run("failing-step", keys=["enter"]))


def test_filter_cached(snap_compare, tmp_path):
    keys = ["slash", *"cached", "enter"]
    assert snap_compare(make_app(tmp_path), terminal_size=(120, 40), run_before=_run("file-change", keys=keys))


@pytest.mark.parametrize("theme", ["railpack-light", "railpack-contrast"])
def test_themes(snap_compare, tmp_path, theme):
    assert snap_compare(make_app(tmp_path, theme=theme), terminal_size=(120, 40), run_before=_run("file-change"))


def test_help(snap_compare, tmp_path):
    async def run_before(pilot):
        await _idle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(make_app(tmp_path), terminal_size=(120, 40), run_before=run_before)


def test_no_builder(snap_compare, tmp_path, monkeypatch):
    # no BUILDKIT_HOST and no sandbox running: the command line shows its placeholder
    monkeypatch.delenv("BUILDKIT_HOST", raising=False)
    monkeypatch.setenv("RAILPACK_TUI_SANDBOX_DIR", str(tmp_path / "no-sandbox"))
    notice = ("No builder: BUILDKIT_HOST is unset and the sandbox tools are missing (buildkitd, runc). "
              "Fix: run scripts/install-tools.")
    app = make_app(tmp_path, builder=None, notices=[notice])
    assert snap_compare(app, terminal_size=(100, 30), run_before=_idle)
