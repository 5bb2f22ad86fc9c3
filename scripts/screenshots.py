"""Render screenshots/*.svg from real sandbox builds (see scripts/screenshots).

Each shot is a function `shot_NAME(pilot, ctx)` that drives the app with a Textual pilot and
returns when the screen shows what the picture is about; `SHOTS` lists them in order (later shots
build on the cache the earlier ones filled). Other screens add their own shots to SHOTS.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "screenshots"
SIZE = (120, 40)

# keep the user's own sandbox, but isolate settings, history and logs
from railpack_tui.core import paths  # noqa: E402

os.environ.setdefault("RAILPACK_TUI_SANDBOX_DIR", str(paths.sandbox_dir()))
_TMP = Path(tempfile.mkdtemp(prefix="railpack-tui-shots-"))
for _name in ("CONFIG", "DATA", "STATE"):
    os.environ[f"RAILPACK_TUI_{_name}_DIR"] = str(_TMP / _name.lower())
os.environ.pop("BUILDKIT_HOST", None)

from railpack_tui.core import example, sandbox, tools  # noqa: E402
from railpack_tui.core.defaults import Setup, sandbox_cache_ref  # noqa: E402
from railpack_tui.tui.app import RailpackTUI  # noqa: E402


@dataclass
class Context:
    info: sandbox.SandboxInfo
    project: Path
    cache_ref: str  # a fresh tag, so the first build really is the first into an empty ref


def prune(ctx: Context) -> None:
    subprocess.run([tools.require("buildctl", "screenshots"), "--addr", ctx.info.buildkit_host, "prune", "--all"],
                   check=True, capture_output=True, timeout=300)


async def until(pilot, predicate, limit_s: float = 300) -> None:
    for _ in range(int(limit_s * 10)):
        if predicate():
            return
        await pilot.pause(0.1)
    job = pilot.app.state.current
    detail = f" (build {job.outcome}: {job.error or getattr(job.model, 'error', '')})" if job is not None else ""
    raise SystemExit(f"screenshots: the app never reached the expected state{detail}")


async def build(pilot, rebuild: bool = False):
    await pilot.press("r" if rebuild else "b")
    job = pilot.app.state.current
    await until(pilot, lambda: not job.running)
    await pilot.pause(0.3)
    return job


async def shot_build_empty(pilot, ctx):
    await pilot.pause(0.5)


async def shot_build_running(pilot, ctx):
    prune(ctx)
    await pilot.press("b")
    job = pilot.app.state.current
    await until(pilot, lambda: not job.running or (job.model is not None and any(
        s.state == "running" and "resolving dependencies" in s.name for s in list(job.model.steps))))
    await pilot.pause(1.2)
    return job


async def shot_build_cold(pilot, ctx):
    job = pilot.app.state.current
    if job is not None and job.running:
        await until(pilot, lambda: not job.running)
    else:
        prune(ctx)
        await build(pilot)
    await pilot.pause(0.3)


async def shot_build_warm(pilot, ctx):
    prune(ctx)
    await build(pilot, rebuild=True)


async def shot_build_file_change(pilot, ctx):
    main = ctx.project / "src" / "main.txt"
    main.write_text(main.read_text() + "a change that busts the cache from COPY src/ on\n")
    prune(ctx)
    await build(pilot)
    table = pilot.app.screen.query_one("#steps")
    for i in range(table.row_count):
        if "COPY src/" in table.get_row_at(i)[1].plain:
            table.move_cursor(row=i)
    await pilot.pause(0.3)


async def shot_build_cold_401(pilot, ctx):
    # the same registry under another name has no saved credential: the import gets 401
    host, _, port = ctx.info.registry.rpartition(":")
    other = ("localhost" if host == "127.0.0.1" else "127.0.0.1") + f":{port}"
    await pilot.press("escape")
    prune(ctx)
    pilot.app.update_state(cache_ref=ctx.cache_ref.replace(ctx.info.registry, other), no_export=True)
    await build(pilot)
    pilot.app.update_state(cache_ref=ctx.cache_ref, no_export=False)


async def shot_build_step_details(pilot, ctx):
    await pilot.press("enter")
    await pilot.pause(0.3)


async def shot_help(pilot, ctx):
    await pilot.press("question_mark")
    await pilot.pause(0.3)


# --- Projects, Registries, History (their owner's section) --------------------------------------

_HOME = os.environ.get("HOME", "")


async def shot_projects(pilot, ctx):
    """The example project as detected; paths shown under a HOME of its own (`~/cache-demo`)."""
    os.environ["HOME"] = str(ctx.project.parent)
    await pilot.press("escape", "2")
    await pilot.pause(1.0)


async def shot_registries(pilot, ctx):
    """The sandbox registry's checks, run live (`t`) against the real registry."""
    os.environ["HOME"] = _HOME
    await pilot.press("3")
    await pilot.pause(1.0)
    await pilot.press("t")
    screen = pilot.app.screen
    await until(pilot, lambda: screen.testing is None and ctx.cache_ref in screen.last_results, 60)
    await pilot.pause(0.5)


async def shot_registries_add(pilot, ctx):
    """The add form: the password is masked."""
    await pilot.press("a")
    await pilot.pause(0.3)
    await pilot.press(*ctx.cache_ref.replace(":shots-", ":other-"), "tab", *"railpack", "tab", *"not-the-password")
    await pilot.pause(0.3)


async def shot_history(pilot, ctx):
    """The builds above, newest first, with hit-ratio and duration sparklines."""
    await pilot.press("escape", "4")
    await pilot.pause(1.0)


async def shot_history_compare(pilot, ctx):
    """The file-change build against the warm build before it, step by step."""
    from railpack_tui.tui.screens.history_compare import CompareScreen

    table = pilot.app.screen.query_one("#history-runs")
    for i in range(table.row_count):
        run = pilot.app.screen.runs[i]
        if any(s.miss and s.miss.get("kind") == "files-changed" for s in run.steps):
            table.move_cursor(row=i)
            break
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, CompareScreen), 30)
    await pilot.pause(0.5)


async def serve_browser_png(ctx) -> None:
    """screenshots/serve-browser.png: `railpack-tui serve` in headless Chromium (the same dashboard)."""
    sys.path.insert(0, str(REPO / "tests"))
    from support import browser

    if browser.chromium() is None:
        print("screenshots: chromium missing (apt-get install -y chromium): serve-browser.png skipped", file=sys.stderr)
        return
    port = browser.free_port()
    log = _TMP / "serve.log"
    proc = browser.start_serve(port, ctx.project, dict(os.environ), log)
    try:
        browser.wait_http(f"http://127.0.0.1:{port}/")
        await browser.capture_async(f"http://127.0.0.1:{port}/", OUT / "serve-browser.png", size=(1280, 760),
                                    wait_for="palette")
    finally:
        browser.stop(proc)
    print("screenshots: wrote screenshots/serve-browser.png")


async def shot_build_small(pilot, ctx):
    await pilot.press("1")
    await pilot.resize_terminal(80, 24)
    await pilot.pause(0.5)


async def shot_build_large(pilot, ctx):
    await pilot.resize_terminal(200, 60)
    await pilot.pause(0.5)


SHOTS = [
    ("build-empty", shot_build_empty),
    ("build-running", shot_build_running),
    ("build-cold-first", shot_build_cold),
    ("build-warm", shot_build_warm),
    ("build-file-change", shot_build_file_change),
    ("build-step-details", shot_build_step_details),
    ("build-cold-401", shot_build_cold_401),
    ("help", shot_help),
    ("projects", shot_projects),
    ("registries", shot_registries),
    ("registries-add", shot_registries_add),
    ("history", shot_history),
    ("history-compare", shot_history_compare),
    ("build-80x24", shot_build_small),
    ("build-200x60", shot_build_large),
]


async def main(wanted: list[str]) -> int:
    missing = tools.missing(sandbox.REQUIRED_TOOLS)
    if missing:
        print(f"screenshots: sandbox tools missing ({', '.join(missing)}): run scripts/install-tools", file=sys.stderr)
        return 3
    info = sandbox.up(log=lambda m: print(f"screenshots: {m}", file=sys.stderr))
    project = example.prepare(_TMP / "projects" / "cache-demo")
    ref = sandbox_cache_ref(info, project).rsplit(":", 1)[0] + f":shots-{uuid.uuid4().hex[:6]}"
    ctx = Context(info=info, project=project, cache_ref=ref)
    setup = Setup(project=project, builder=info.buildkit_host, cache_ref=ref, sandbox=info)
    app = RailpackTUI(setup, theme="railpack-dark")
    OUT.mkdir(exist_ok=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for name, shot in SHOTS:
            await shot(pilot, ctx)
            if wanted and name not in wanted:
                continue
            path = app.save_screenshot(f"{name}.svg", str(OUT))
            print(f"screenshots: wrote {Path(path).relative_to(REPO)}")
    if not wanted or "serve-browser" in wanted:
        await serve_browser_png(ctx)
    shutil.rmtree(_TMP, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
