"""`railpack-tui demo PATH --cache-ref REF [--engine E] [--builder B] [--tls-dir DIR] [--json]`:
cold vs warm, side by side (see core/demo.py). Exit 0 when both builds succeeded, 1 when one failed."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time

from .. import demo
from ..report import human_bytes, human_time, percent


def _cell(c: dict | None) -> str:
    if c is None:
        return "-"
    state = {"cached": "CACHED", "executed": "RAN", "error": "ERROR"}.get(c["state"], c["state"].upper())
    return f"{state} {human_time(c['duration_s'])}" + (f" {human_bytes(c['pulled_bytes'])}" if c.get("pulled_bytes") else "")


def render(data: dict) -> str:
    cold, warm = data["cold"], data["warm"]
    rows = [("STEP", "COLD (no import)", "WARM (registry cache)")]
    for s in data["steps"]:
        rows.append((s["name"], _cell(s["cold"]), _cell(s["warm"])))
    w1 = max(len(r[1]) for r in rows)
    w2 = max(len(r[2]) for r in rows)
    lines = [f"cold vs warm: {data['project']}  (cache {data['cache_ref']}, builder {data['builder']})", ""]
    lines += [f"{r[1]:<{w1}}  {r[2]:<{w2}}  {r[0]}" for r in rows]
    lines.append("")

    def line(label, side):
        if side is None:
            return f"{label}: not run (the cold build failed)"
        return (f"{label}: {human_time(side['duration_s'])} total, {side['cached']}/{side['steps']} cached "
                f"(hit ratio {percent(side['hit_ratio'])}), {human_bytes(side['pulled_bytes'])} pulled, {side['status']}")
    lines.append(line("cold", cold))
    lines.append(line("warm", warm))
    if data.get("time_saved_s") is not None:
        lines.append(f"time saved by the registry cache: {human_time(data['time_saved_s'])}"
                     + (f" ({data['speedup']}x faster)" if data.get("speedup") else ""))
    for label, side in (("cold", cold), ("warm", warm)):
        error = side.get("error") if side else None
        if isinstance(error, dict):  # a structured error (kind, message)
            error = error.get("message")
        if error:
            lines.append(f"{label} build error: {error}")
    return "\n".join(lines)


def _stop_engines(grace_s: float = 5.0) -> None:
    """After Ctrl-C: the engine runs in a session of its own (the terminal's SIGINT does not reach
    it), so cancel it here (SIGINT, then SIGKILL after `grace_s`) and remove its Docker config."""
    from ..engines.base import group_alive, kill_live_groups, live_process_groups
    from ..runner import stop_all_builds

    stop_all_builds()
    deadline = time.monotonic() + grace_s
    while any(group_alive(g) for g in live_process_groups()) and time.monotonic() < deadline:
        time.sleep(0.1)
    kill_live_groups(signal.SIGKILL)


def run(args: argparse.Namespace) -> int:
    from ..runner import install_signal_handlers

    # SIGTERM/SIGHUP and Ctrl-C stop the running build's engine and remove its temporary Docker
    # config; before, buildctl and the step ran on (and with SIGTERM the config stayed on disk)
    install_signal_handlers()
    say = (lambda m: None) if args.json else (lambda m: print(f"demo: {m}", file=sys.stderr))
    try:
        result = demo.run_demo(args.path, args.cache_ref, engine=args.engine, builder=args.builder,
                               tls_dir=getattr(args, "tls_dir", None), on_phase=say)
    except KeyboardInterrupt:
        _stop_engines()
        raise
    data = result.to_json()
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(render(data))
    return 0 if result.ok else 1
