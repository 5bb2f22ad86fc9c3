"""`railpack-tui sandbox up|down|status|env`."""

from __future__ import annotations

import json
import sys

from .. import sandbox


def _describe(info: sandbox.SandboxInfo) -> list[str]:
    def state(d):
        if d is None:
            return "not started"
        if not d.alive:
            return f"CRASHED (pid {d.pid} is gone; log: {d.log})"
        return f"running (pid {d.pid})" + ("" if d.answering else ", NOT ANSWERING")

    lines = [
        f"sandbox dir:  {info.dir}",
        f"buildkitd:    {state(info.buildkitd)}  {info.buildkit_host}  snapshotter={info.snapshotter}  debug={info.debug_addr}",
        f"registry:     {state(info.registry_daemon)}  {info.registry}  (htpasswd auth, user {info.username!r})",
        f"credentials:  {info.credential_store}",
    ]
    lines += [f"note: {n}" for n in info.notes]
    return lines


def run(args) -> int:
    action = args.action
    if action == "up":
        log = (lambda m: None) if args.json else (lambda m: print(f"sandbox: {m}", file=sys.stderr))
        info = sandbox.up(log=log)
        if args.json:
            print(json.dumps({"ok": True, **info.to_json()}))
        else:
            print("\n".join(_describe(info)))
            print("\nUse it from your shell:  eval \"$(railpack-tui sandbox env)\"")
        return 0
    if action == "down":
        stopped = sandbox.down()
        if args.json:
            print(json.dumps({"ok": True, "stopped": stopped}))
        else:
            print("stopped: " + ", ".join(stopped) if stopped else "the sandbox was not running")
        return 0
    if action == "status":
        info = sandbox.status()
        if sandbox.password_lost(info):
            info.notes.append(sandbox.PASSWORD_LOST)
        if args.json:
            print(json.dumps({"ok": info.running, **info.to_json()}))
        elif info.buildkitd is None and info.registry_daemon is None:
            print(f"the sandbox is not running (start it: railpack-tui sandbox up); dir {info.dir}")
        else:
            print("\n".join(_describe(info)))
        return 0 if info.running else 1
    if action == "env":
        info = sandbox.status(probe=False)
        if not info.buildkit_host:
            from ..errors import EnvironmentProblem

            raise EnvironmentProblem("the sandbox is not running.", fix="railpack-tui sandbox up")
        if args.json:  # the same variables, for a script that asked for JSON
            print(json.dumps({"ok": True, "env": {"BUILDKIT_HOST": info.buildkit_host,
                                                  "RAILPACK_TUI_SANDBOX_REGISTRY": info.registry}}))
        else:
            print("\n".join(sandbox.env_lines(info)))
        return 0
    return 2
