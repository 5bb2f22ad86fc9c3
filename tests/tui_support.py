"""Helpers for the TUI tests: an app with a fixed clock and private settings, and recorded
streams replayed onto the Build screen (so snapshots are stable)."""

from __future__ import annotations

from pathlib import Path

from railpack_tui.core.defaults import Setup
from railpack_tui.tui.app import RailpackTUI
from railpack_tui.tui.replay import replay
from railpack_tui.tui.state import Settings

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "tui"
# the return codes of the recorded buildctl runs (see fixtures/tui/README.md)
RETURN_CODES = {"export-unauthorized": 1, "failing-step": 1, "cancelled": 1}
# what the tests render: fixed names, no temporary paths or random ports
PROJECT = Path("/home/dev/cache-demo")
BUILDER = "unix:///run/buildkit/buildkitd.sock"
CACHE_REF = "registry.example:5000/team/cache-demo:cache"
COMMAND = ("DOCKER_CONFIG=\"${DOCKER_CONFIG:-$HOME/.docker}\" buildctl --addr unix:///run/buildkit/buildkitd.sock "
           "build --frontend dockerfile.v0 --local context=/home/dev/cache-demo --local dockerfile=/home/dev/cache-demo "
           "--progress=rawjson --import-cache type=registry,ref=registry.example:5000/team/cache-demo:cache "
           "--export-cache type=registry,ref=registry.example:5000/team/cache-demo:cache,mode=max")
FIXED_NOW = 1_800_000_000.0


# what core/explain.py puts on executed steps once history exists (see the contract's `miss`)
FILE_CHANGE_MISSES = {
    "[build 1/2] COPY src/ ./src/": {"kind": "files-changed", "detail": "src/main.txt changed since the last build",
                                      "files": ["src/main.txt"]},
    "[build 2/2] RUN": {"kind": "parent-missed", "detail": "runs after [build 1/2] COPY src/ ./src/, which ran",
                        "files": []},
    "[final 1/1]": {"kind": "parent-missed", "detail": "copies from build, whose steps ran", "files": []},
}


def with_misses(model, misses: dict[str, dict]):
    """Attach miss explanations to the steps whose names start with the given keys."""
    for step in model.steps:
        for prefix, miss in misses.items():
            if step.name.startswith(prefix) and step.state == "executed":
                step.miss = dict(miss)
    return model


def stream(name: str) -> Path:
    return FIXTURES / f"{name}.rawjson.jsonl"


def replayed(name: str, upto: int | None = None):
    """A model of a recorded stream: finished, or cut after `upto` lines (still running)."""
    return replay(stream(name), upto, finish=upto is None, returncode=RETURN_CODES.get(name, 0))


def make_app(settings_dir: Path, *, theme: str | None = None, builder: str | None = BUILDER,
             project: Path = PROJECT, cache_ref: str | None = CACHE_REF, notices: list[str] | None = None) -> RailpackTUI:
    setup = Setup(project=project, builder=builder, cache_ref=cache_ref, notices=list(notices or []))
    settings = Settings.load(settings_dir / "settings.json")
    return RailpackTUI(setup, settings=settings, theme=theme, clock=lambda: FIXED_NOW)


async def show_replay(pilot, name: str, upto: int | None = None, misses: dict[str, dict] | None = None):
    """Put a replayed build on the Build screen; the clock stops just after the last event."""
    app = pilot.app
    await app.workers.wait_for_complete()
    model = with_misses(replayed(name, upto), misses or {})
    app.clock = lambda: (model.last_time or FIXED_NOW) + 0.25
    app.show_build(model, command_line=COMMAND)
    await pilot.pause()
    await pilot.pause()
    return model
