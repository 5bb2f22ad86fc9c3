"""`railpack-tui build PATH [--cache-ref REF] [--engine buildkit|buildx|railpack] [--builder ADDR]
[--mode max|min] [--no-import] [--no-export] [--build-arg K=V ...] [--json]`.

Live progress goes to stderr: a redrawn block on a terminal, one line per finished step
otherwise; the report (or, with --json, the contract's JSON) goes to stdout at the end.
Exit 0 on success, 1 when the build failed or was cancelled (130 on Ctrl-C), 2/3 per contract."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time

from ..errors import BadInput
from ..runner import BuildRequest, BuildRun, RunEvent, install_signal_handlers

_FINAL = ("cached", "executed", "error", "cancelled")
_LABEL = {"cached": "CACHED", "executed": "RAN", "error": "ERROR", "cancelled": "CANCELLED", "running": "...",
          "pending": "-"}


def parse_build_args(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise BadInput(f"--build-arg {item!r} has no value.", fix="pass --build-arg NAME=VALUE")
        k, v = item.split("=", 1)
        out[k] = v
    return out


def check_cache_ref_given(ref: str | None) -> None:
    """`--cache-ref ""` (an unset variable in CI: `--cache-ref "$CACHE_REF"`) is refused, not
    taken as "no cache ref": that would build without any registry cache and still exit 0."""
    if ref is not None and not ref:
        raise BadInput("--cache-ref is empty.", kind="invalid-ref",
                       fix="give a reference like registry.example.com/team/app-cache:main, or leave out --cache-ref "
                           "to build without a registry cache")


def request_from_args(args: argparse.Namespace) -> BuildRequest:
    check_cache_ref_given(args.cache_ref)
    return BuildRequest(
        path=args.path, cache_ref=args.cache_ref, engine=args.engine, builder=args.builder, mode=args.mode,
        no_import=args.no_import, no_export=args.no_export, no_cache=getattr(args, "no_cache", False),
        ignore_export_error=getattr(args, "ignore_export_error", False), build_args=parse_build_args(args.build_arg),
        target=getattr(args, "target", None), output=getattr(args, "output", None),
        progress_file=getattr(args, "progress_file", None), tls_dir=getattr(args, "tls_dir", None),
    ).validate()


class _Progress:
    """Renders progress from the build thread (the thread that feeds the model)."""

    def __init__(self, run: BuildRun, stream, tty: bool, quiet: bool):
        self.run = run
        self.stream = stream
        self.tty = tty
        self.quiet = quiet
        self.printed: dict[str, str] = {}
        self.phase = ""
        self.drawn = 0
        self.last_draw = 0.0

    def __call__(self, ev: RunEvent) -> None:
        if self.quiet:
            return
        if ev.kind == "phase":
            self.phase = ev.message
            if not self.tty:
                print(f"==> {ev.message}", file=self.stream, flush=True)
        elif ev.kind == "output" and not self.tty:
            print(f"    {ev.message}", file=self.stream, flush=True)
        if self.tty:
            if ev.kind == "finished" or time.monotonic() - self.last_draw > 0.1:
                self._draw(final=ev.kind == "finished")
        elif ev.kind in ("progress", "finished"):
            self._lines()

    def _steps(self):
        model = self.run.model
        return model.steps if model is not None else []

    def _lines(self) -> None:
        for st in self._steps():
            if st.state in _FINAL and self.printed.get(st.id) != st.state:
                self.printed[st.id] = st.state
                t = f"{st.duration_s:.2f}s" if st.duration_s is not None else "-"
                print(f"{_LABEL[st.state]:<9} {t:>8}  {st.name}", file=self.stream, flush=True)

    def _draw(self, final: bool) -> None:
        self.last_draw = time.monotonic()
        steps = self._steps()
        size = shutil.get_terminal_size((100, 24))
        # a frame taller than the screen cannot be redrawn (the cursor cannot go up to lines that
        # scrolled away): on a 40x10 terminal each redraw of 16 lines piled up in the scrollback
        shown = min(15, max(1, size.lines - 2))
        lines = [f"railpack-tui: {self.phase}"]
        for st in steps[-shown:] if not final else steps:
            t = f"{st.duration_s:.2f}s" if st.duration_s is not None else ""
            lines.append(f"  {_LABEL.get(st.state, st.state):<9} {t:>8}  {st.name}")
        width = max(20, size.columns - 1)  # no wrapping: the redraw counts lines
        lines = [ln[:width] for ln in lines]
        out = ""
        if self.drawn:
            out += f"\x1b[{self.drawn}F\x1b[J"
        out += "\n".join(lines) + "\n"
        self.stream.write(out)
        self.stream.flush()
        self.drawn = len(lines)


def run(args: argparse.Namespace) -> int:
    request = request_from_args(args)
    install_signal_handlers()
    stream = sys.stderr
    build = BuildRun(request, model_after_start=True)
    build.on_event = _Progress(build, stream, tty=stream.isatty(), quiet=args.json)
    interrupted = False
    build.start()
    try:
        while build.wait(0.2) is None:
            pass
    except KeyboardInterrupt:
        interrupted = True
        print("railpack-tui: cancelling the build...", file=stream, flush=True)
        build.cancel()
        while build.wait(0.2) is None:
            pass
    result = build.result
    assert result is not None
    if result.error is not None and result.returncode is None:
        raise result.error
    report = result.report()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        from ..report import render_table

        print(render_table(report))
        for note in result.notes:
            print(f"note: {note}")
        print(f"run {result.run_id}: {result.engine} on {result.builder}, {result.duration_s:.1f}s")
        print(f"equivalent command: {result.command_line}")
        if result.error is not None:
            print(f"railpack-tui: error: {result.error}", file=sys.stderr)
    from ..cli import skip_teardown

    skip_teardown()  # everything is written, the engine's group reaped, the temporary Docker config gone
    if interrupted:
        return 130
    return 0 if result.ok else 1
