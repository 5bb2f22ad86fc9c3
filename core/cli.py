"""The `railpack-tui` command line (see the contract in the README). Imports stay lazy so that
`--version` answers without loading Textual or anything heavy."""

from __future__ import annotations

import argparse
import json
import sys

from . import __version__
from .errors import BadInput, RailpackTuiError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # exit 2, in our own error shape (JSON with --json)
        raise BadInput(f"{self.prog}: {message}", fix=f"see `{self.prog} --help`", kind="bad-flag")


JSON_HELP = "print JSON (the contract's shape) instead of text; errors too"
ENGINE_HELP = "buildkit: buildctl (default); buildx: docker buildx; railpack: a Railpack plan through BuildKit"
BUILDER_HELP = ("unix://..., tcp://host:port, docker-container://name or a buildx builder name "
                "(default: BUILDKIT_HOST, then the local sandbox)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="railpack-tui", description="A terminal dashboard for BuildKit builds with a shared registry layer cache.")
    p.add_argument("--version", action="version", version=f"railpack-tui {__version__}")
    p.add_argument("--project", help="open the dashboard on this project directory")
    p.add_argument("--theme", help="dashboard theme (railpack-dark, railpack-light, railpack-contrast)")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    s = sub.add_parser("sandbox", help="local buildkitd + registry (with auth) on loopback")
    s.add_argument("action", choices=["up", "down", "status", "env"],
                   help="up: start it; down: stop it; status: what runs where; env: the shell exports for it")
    s.add_argument("--json", action="store_true", help=JSON_HELP)

    r = sub.add_parser("registry", help="cache registry credentials and checks")
    rsub = r.add_subparsers(dest="registry_command", required=True, parser_class=_Parser)
    lg = rsub.add_parser("login", help="store a registry password in the OS keyring")
    lg.add_argument("ref", help="a cache ref (or just the registry host) whose registry the password is for")
    lg.add_argument("--username", "-u", required=True, help="the registry username")
    lg.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    lg.add_argument("--no-verify", action="store_true", help="save without first checking the password against the registry")
    lg.add_argument("--insecure", action="store_true", help="verify over plain HTTP / unverified TLS")
    lg.add_argument("--ca-cert", help="a PEM file of CA certificates to trust while verifying")
    lg.add_argument("--timeout", type=float, default=5.0, help="seconds per verification step (default 5)")
    lg.add_argument("--json", action="store_true", help=JSON_HELP)
    lo = rsub.add_parser("logout", help="remove a stored registry password")
    lo.add_argument("ref", help="a cache ref (or just the registry host) whose saved password to remove")
    lo.add_argument("--username", "-u", required=True, help="the registry username")
    lo.add_argument("--json", action="store_true", help=JSON_HELP)
    ls = rsub.add_parser("list", help="list saved registry credentials (names only)")
    ls.add_argument("--json", action="store_true", help=JSON_HELP)
    t = rsub.add_parser("test", help="check that a cache ref works: reachable, TLS, auth, pull, push, cache")
    t.add_argument("ref", help="the cache ref to check, e.g. registry.example.com/team/app-cache:main")
    t.add_argument("--username", "-u", help="test as this user (default: the newest saved login for the registry)")
    t.add_argument("--password-stdin", action="store_true", help="read the password from standard input (with --username)")
    t.add_argument("--insecure", action="store_true", help="allow plain HTTP and unverified TLS")
    t.add_argument("--ca-cert", help="a PEM file of CA certificates to trust for this registry")
    t.add_argument("--timeout", type=float, default=5.0, help="seconds per check (default 5)")
    t.add_argument("--docker-config", action="store_true",
                   help="also use your Docker login ($DOCKER_CONFIG/config.json or its credential helper) when nothing is saved")
    t.add_argument("--json", action="store_true", help=JSON_HELP)

    b = sub.add_parser("build", help="build a project through BuildKit with registry cache")
    b.add_argument("path", help="the project directory (a Dockerfile, or a Railpack app)")
    b.add_argument("--cache-ref", help="the registry cache to import from and export to (none: no registry cache)")
    b.add_argument("--engine", choices=["buildkit", "buildx", "railpack"], default="buildkit", help=ENGINE_HELP)
    b.add_argument("--builder", help=BUILDER_HELP)
    b.add_argument("--mode", choices=["max", "min"], default="max",
                   help="cache export mode: max, every step (default); min, the final result's layers only")
    b.add_argument("--no-import", action="store_true", help="do not import the registry cache (still export it)")
    b.add_argument("--no-export", action="store_true", help="do not export the cache (still import it)")
    b.add_argument("--no-cache", action="store_true", help="ignore every cache (BuildKit --no-cache)")
    b.add_argument("--ignore-export-error", action="store_true", help="export with ignore-error=true")
    b.add_argument("--build-arg", action="append", default=[], metavar="K=V", help="a build arg (repeatable)")
    b.add_argument("--target", help="the Dockerfile stage to build (default: the last)")
    b.add_argument("--output", help="none (default), a local directory, or push=IMAGE")
    b.add_argument("--progress-file", help="also write the raw progress stream here")
    b.add_argument("--tls-dir", help="client TLS for a tcp:// builder: a directory with ca.pem, cert.pem, key.pem")
    b.add_argument("--json", action="store_true", help=JSON_HELP)

    rp = sub.add_parser("report", help="read a recorded BuildKit progress stream and report the cache")
    rp.add_argument("progress_file", help="a file of BuildKit progress (--progress=rawjson or plain)")
    rp.add_argument("--format", choices=["auto", "rawjson", "plain"], default="auto",
                    help="the file's progress format (default: auto, told from its lines)")
    rp.add_argument("--json", action="store_true", help=JSON_HELP)

    h = sub.add_parser("history", help="past builds of a project")
    h.add_argument("path", help="the project directory")
    h.add_argument("--limit", type=int, default=20, help="how many of the newest builds (default 20)")
    h.add_argument("--json", action="store_true", help=JSON_HELP)

    d = sub.add_parser("demo", help="cold vs warm, side by side")
    d.add_argument("path", help="the project directory")
    d.add_argument("--cache-ref", required=True, help="the registry cache the cold build exports to and the warm one imports")
    d.add_argument("--engine", choices=["buildkit", "buildx", "railpack"], default="buildkit", help=ENGINE_HELP)
    d.add_argument("--builder", help=BUILDER_HELP + "; its whole local cache is pruned, twice")
    d.add_argument("--tls-dir", help="client TLS for a tcp:// builder: a directory with ca.pem, cert.pem, key.pem")
    d.add_argument("--json", action="store_true", help=JSON_HELP)

    sv = sub.add_parser("serve", help="the dashboard in a web browser (textual-serve)")
    sv.add_argument("--port", type=int, default=8000, help="the port to serve on (default 8000)")
    sv.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    return p


def _emit_error(err: RailpackTuiError, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"ok": False, "error": err.to_json()}))
    else:
        print(f"railpack-tui: error: {err}", file=sys.stderr)
    return err.exit_code


def _dispatch(args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd is None:
        from .commands import dashboard

        return dashboard.run(args)
    from importlib import import_module

    module = import_module(f".commands.{cmd}", __package__)
    return module.run(args)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    as_json = "--json" in argv
    try:
        args = build_parser().parse_args(argv)
        code = _dispatch(args)
    except RailpackTuiError as err:
        code = _emit_error(err, as_json)
    except KeyboardInterrupt:
        if as_json:  # errors are JSON too with --json
            print(json.dumps({"ok": False, "error": {"kind": "interrupted", "message": "interrupted (Ctrl-C)."}}))
        else:
            print("railpack-tui: interrupted", file=sys.stderr)
        code = 130
    except BrokenPipeError:
        code = 1
    except Exception as exc:  # the last line of defence: no traceback reaches the user
        from .crashlog import record

        where = record(exc)
        err = RailpackTuiError(f"internal error: {type(exc).__name__}: {exc}", fix=f"please report it with {where}", kind="internal")
        code = _emit_error(err, as_json)
    return code


_teardown = True


def skip_teardown() -> None:
    """For a command whose work is done and written when it returns (build): the console script
    then ends the process without the interpreter's teardown (finalising every loaded module and
    collecting it: ~15 ms after a build). `main()` itself never exits: tests call it in-process."""
    global _teardown
    _teardown = False


def entry() -> None:
    code = main()
    if not _teardown:
        import os

        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    sys.exit(code)
