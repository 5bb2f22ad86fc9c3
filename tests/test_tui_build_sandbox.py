"""The dashboard against the real sandbox (buildkitd + authenticated registry): build the example
cold (every step runs, the empty ref is a first build), prune the local cache, rebuild and see
every step turn CACHED from the registry; cancel a running build."""

from __future__ import annotations

import subprocess

import pytest

from railpack_tui.core import tools
from railpack_tui.core.engines.base import group_alive
from tui_support import make_app

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


def prune(addr: str) -> None:
    r = subprocess.run([tools.require("buildctl", "tests"), "--addr", addr, "prune", "--all"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def badges(app) -> list[str]:
    table = app.screen.query_one("#steps")
    return [table.get_row_at(i)[0].plain.split()[-1] for i in range(table.row_count)]


async def until(pilot, predicate, what: str, limit: int = 1200) -> None:
    """Let the app run until `predicate()` holds (bounded: `limit` pauses of 0.1 s)."""
    for _ in range(limit):
        if predicate():
            return
        await pilot.pause(0.1)
    raise AssertionError(f"never happened: {what}")


async def test_cold_then_warm_from_the_registry(sandbox, example_project, unique_ref, tmp_path):
    # content of our own, so a build of the example running elsewhere on this sandbox between the
    # prune and ours cannot make the steps that read our files cached (base and WORKDIR may be)
    for name in ("requirements.txt", "src/main.txt"):
        f = example_project / name
        f.write_text(f.read_text() + f"# {unique_ref}\n")
    prune(sandbox.buildkit_host)
    app = make_app(tmp_path, project=example_project, builder=sandbox.buildkit_host, cache_ref=unique_ref)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("b")
        cold = app.state.current
        await until(pilot, lambda: not cold.running, "the cold build ends")
        await pilot.pause()
        assert cold.outcome == "success", (cold.error, cold.model.error)
        names = [s.name for s in cold.model.steps]
        assert len(badges(app)) == len(names) >= 7
        own = [b for n, b in zip(names, badges(app)) if not n.startswith("[base ") and "WORKDIR" not in n]
        assert own and set(own) == {"DONE"}
        assert [o.state for o in cold.model.cache_import] == ["not-found"]
        assert [o.state for o in cold.model.cache_export] == ["ok"]
        assert "First build for this cache ref" in str(app.screen.query_one("#cold").render())

        prune(sandbox.buildkit_host)
        await pilot.press("r")
        warm = app.state.current
        assert warm is not cold
        await until(pilot, lambda: not warm.running, "the warm build ends")
        await pilot.pause()
        assert warm.outcome == "success", (warm.error, warm.model.error)
        assert set(badges(app)) == {"CACHED"}
        assert len(badges(app)) == len(cold.model.steps)
        assert [o.state for o in warm.model.cache_import] == ["ok"]
        meter = str(app.screen.query_one("#meter").render())
        assert "100%" in meter
        assert not app.screen.query_one("#cold").display  # no banner on a warm build


async def test_cancel_a_running_build(sandbox, example_project, tmp_path):
    dockerfile = example_project / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + '\nFROM base AS slow\nRUN echo "working"; sleep 120; echo "never"\n')
    app = make_app(tmp_path, project=example_project, builder=sandbox.buildkit_host, cache_ref=None)
    app.state.build_args = {}
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        # build the slow stage: the target comes from the request the app builds
        original = app.build_request

        def with_target():
            request = original()
            request.target = "slow"
            return request

        app.build_request = with_target
        await pilot.press("b")
        job = app.state.current
        await until(pilot, lambda: job.model is not None and any(
            s.state == "running" and "sleep 120" in s.name for s in list(job.model.steps)), "the sleep step runs")
        pgid = job.handle.pgid
        await pilot.press("c")
        await until(pilot, lambda: not job.running, "the build stops after cancel", limit=300)
        await pilot.pause()
        assert job.outcome == "cancelled"
        assert "CANCELED" in badges(app)
        assert pgid is not None and not group_alive(pgid)
        assert "CANCELLED" in str(app.screen.query_one("#status").render())
