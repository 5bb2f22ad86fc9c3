"""`railpack-tui serve [--port N] [--host H]`: the same dashboard in a web browser, through
textual-serve. Every browser tab that connects starts its own dashboard process
(`python -m railpack_tui.core [--project P] [--theme T]`) and talks to it over a websocket."""

from __future__ import annotations

import errno
import os
import shlex
import signal
import socket
import sys
from pathlib import Path

from ..errors import BadInput, EnvironmentProblem
from ..netutil import port_free


def dashboard_command(project: str | None = None, theme: str | None = None) -> str:
    """The shell command textual-serve runs for each browser session."""
    argv = [sys.executable, "-m", "railpack_tui.core"]
    if project:  # absolute: the dashboard processes may not start in this directory
        argv += ["--project", str(Path(project).expanduser().resolve())]
    if theme:
        argv += ["--theme", theme]
    return shlex.join(argv)


def public_url(host: str, port: int) -> str:
    """The address a browser uses: a wildcard bind is reached through this machine's name."""
    shown = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def _check(host: str, port: int) -> None:
    if not 0 < port < 65536:
        raise BadInput(f"port {port} is out of range.", fix="pass --port with a number between 1 and 65535")
    try:
        free = port_free(port, host)
    except OSError as exc:  # an address that is not this machine's, or an unknown name
        if exc.errno == errno.EACCES:
            raise BadInput(f"port {port} on {host} needs root.", fix="pass --port with a number above 1023, e.g. --port 8123") from None
        raise BadInput(f"cannot listen on {host}: {exc.strerror or exc}.", fix="pass --host 127.0.0.1 or another local address") from None
    if not free:
        raise EnvironmentProblem(f"port {port} on {host} is already in use.", fix="pass --port with a free port, e.g. --port 8123")


def _signal_dashboards(sig: int = signal.SIGTERM) -> list[int]:
    """Send `sig` to every process this server started in its own process group (each browser
    tab's `sh -c` and dashboard; a build's engine has a session of its own): a dashboard then
    cancels its build and removes its temporary Docker config at once. Without this, serve's
    SIGTERM reached them only when textual-serve's shutdown closed their websockets, 20-odd
    seconds later while the build ran on."""
    me, group = os.getpid(), os.getpgrp()
    procs: dict[int, tuple[int, int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                rest = open(f"/proc/{entry.name}/stat", "rb").read().decode(errors="replace").rsplit(")", 1)[-1].split()
                procs[int(entry.name)] = (int(rest[1]), int(rest[2]))
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = [], {me}
    while frontier:
        frontier = {p for p, (ppid, _) in procs.items() if ppid in frontier and p not in found}
        found += frontier
    sent = []
    for pid in found:
        if procs[pid][1] == group:
            try:
                os.kill(pid, sig)
                sent.append(pid)
            except OSError:
                pass
    return sent


def run(args) -> int:
    host, port = args.host, args.port
    project = getattr(args, "project", None)
    if project:
        from ..defaults import project_dir

        project_dir(project)
    # every browser tab starts a dashboard with this theme: an unknown one would end each of them
    from .dashboard import check_theme

    check_theme(getattr(args, "theme", None))
    _check(host, port)
    try:
        from textual_serve.server import Server
    except ImportError:
        raise EnvironmentProblem("textual-serve is not installed.", fix="run scripts/setup-python (or pip install textual-serve)") from None
    command = dashboard_command(getattr(args, "project", None), getattr(args, "theme", None))
    url = public_url(host, port)
    print(f"railpack-tui: serving the dashboard on {url} (Ctrl+C stops it)", file=sys.stderr, flush=True)
    server = Server(command, host=host, port=port, title="railpack-tui", public_url=url)
    stop_server = server.request_exit  # what textual-serve runs on SIGTERM and SIGINT

    def request_exit() -> None:
        _signal_dashboards()
        stop_server()

    server.request_exit = request_exit
    server.serve()
    return 0
