"""`railpack-tui registry login|logout|list|test`. Passwords come from standard input only
(`--password-stdin`; a no-echo prompt when stdin is a terminal), never from argv, and are never printed."""

from __future__ import annotations

import getpass
import json
import sys
import threading

from .. import credentials, refs, registry
from ..errors import BadInput


def _require_password_stdin(args) -> None:
    if not getattr(args, "password_stdin", False):
        raise BadInput("The password is read from standard input only.",
                       fix="pipe it in: `printf %s \"$PASSWORD\" | railpack-tui registry login REF --username U --password-stdin`")


def _read_password(args) -> str:
    _require_password_stdin(args)
    if sys.stdin is None:
        raise BadInput("--password-stdin was given but there is no standard input.", fix="pipe the password into the command")
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
    else:
        try:
            password = sys.stdin.buffer.read().decode("utf-8", errors="strict")
        except UnicodeDecodeError:
            raise BadInput("The password read from standard input is not UTF-8 text.",
                           fix="pipe the password as UTF-8 text") from None
        if password.endswith("\n"):
            password = password[:-1]
        if password.endswith("\r"):
            password = password[:-1]
    if not password:
        raise BadInput("The password read from standard input is empty.", fix="pipe the password itself, without extra blank lines")
    return password


def _print(data: dict) -> None:
    print(json.dumps(data))


LOGIN_CHECK_REPOSITORY = "railpack-tui/login-check"


def _verify_login(args, host: str, cred: credentials.Credential) -> registry.RegistryTestResult:
    """Check the password as `docker login` does: the checks up to `auth` (no pull, no push).
    With a bare host, a placeholder repository scopes a Bearer token request."""
    try:
        ref = refs.parse_cache_ref(args.ref)
    except BadInput:
        ref = refs.parse_cache_ref(f"{host}/{LOGIN_CHECK_REPOSITORY}:latest")
    cancel = threading.Event()

    def stop_after_auth(check: registry.Check) -> None:
        if check.name == "auth":
            cancel.set()

    return registry.run_checks(ref, cred, insecure=args.insecure, ca_cert=args.ca_cert, timeout=args.timeout,
                               push=False, on_check=stop_after_auth, cancel=cancel)


def login(args) -> int:
    host = refs.registry_of(args.ref)
    _require_password_stdin(args)
    status = credentials.require_keyring()  # exit 3 before reading anything
    password = _read_password(args)
    cred = credentials.Credential(host, args.username, password)
    if not args.no_verify:
        result = _verify_login(args, host, cred)
        if result.failed is not None:
            err = result.error
            if args.json:
                _print({"ok": False, "registry": host, "username": args.username, "saved": False,
                        "checks": [c.to_json() for c in result.checks if not c.skipped], "error": err})
            else:
                print(f"Not saved: {err['message']}", file=sys.stderr)
                print(f"Fix: {err['fix']} (or save it anyway with --no-verify)", file=sys.stderr)
            return 1
    credentials.save(cred)
    if args.json:
        _print({"ok": True, "registry": host, "username": args.username, "saved": True, "verified": not args.no_verify,
                "store": "keyring", "backend": status.backend})
    else:
        print(f"Saved the password for {args.username}@{host} in the OS keyring ({status.backend}).")
        print(f"Check it works: railpack-tui registry test {args.ref if '/' in args.ref else host + '/REPO:TAG'} --username {args.username}")
    return 0


def logout(args) -> int:
    host = refs.registry_of(args.ref)
    removed = credentials.delete(host, args.username)
    if args.json:
        _print({"ok": True, "registry": host, "username": args.username, "removed": removed})
    else:
        print(f"Removed the saved password for {args.username}@{host}." if removed else f"Nothing was saved for {args.username}@{host}.")
    return 0


def list_(args) -> int:
    st = credentials.keyring_status()
    saved = credentials.list_saved()
    problem = credentials.index_problem()
    notices = [f"{problem}. Fix: save each registry again with `railpack-tui registry login` (the passwords are still "
               "in the keyring), or delete the file"] if problem else []
    if args.json:
        _print({"ok": True, "keyring": {"usable": st.usable, "backend": st.backend, "detail": st.detail},
                "credentials": [s.to_json() for s in saved], "notices": notices})
        return 0
    for notice in notices:
        print(f"railpack-tui: {notice}", file=sys.stderr)
    print(f"keyring: {st.detail}")
    if not saved:
        print("no saved registry credentials (add one: railpack-tui registry login REF --username U --password-stdin)")
    for s in saved:
        store = s.store if s.available else f"{s.store} (unavailable: no usable keyring now)"
        print(f"  {s.host:<40} {s.username:<24} {store}")
    return 0


def _credential_for_test(args, ref: refs.Reference) -> credentials.Credential | None:
    if args.password_stdin:
        if not args.username:
            raise BadInput("--password-stdin needs --username.", fix="pass --username U together with --password-stdin")
        return credentials.Credential(ref.registry, args.username, _read_password(args), "stdin")
    use_docker = True if getattr(args, "docker_config", False) else None  # None: the user's saved choice
    cred = credentials.for_registry(ref.registry, args.username, use_docker_config=use_docker)
    if cred is None and args.username:
        try:
            credentials.require_keyring()  # exit 3: the saved password can only come from a keyring
        except credentials.NoKeyring as err:  # for this one test, the password can also come on stdin
            err.fix = (f"pipe the password in for this test: printf %s \"$PASSWORD\" | railpack-tui registry test {args.ref} "
                       f"--username {args.username} --password-stdin; or {err.fix}")
            raise
        raise BadInput(f"No password is saved for {args.username}@{ref.registry}.",
                       fix=f"run `railpack-tui registry login {ref.registry} --username {args.username} --password-stdin`, or add --password-stdin")
    return cred


_MARK = {True: "ok  ", False: "FAIL"}


def _line(check: registry.Check) -> str:
    mark = "skip" if check.skipped else _MARK[check.ok]
    out = f"  {mark} {check.name:<8} {check.duration_s:6.3f}s  {check.detail}"
    if not check.ok and not check.skipped:
        out += f"\n       {'':<8} {'':>7}  [{check.kind}] fix: {check.fix}"
    return out


def _shown_ref(text: str) -> str:
    """The ref as typed, with any `user:password@` in front of the host replaced by `***@`."""
    first, slash, rest = text.partition("/")
    return f"***@{first.rsplit('@', 1)[1]}/{rest}" if "@" in first and slash else text


def _invalid_ref_json(text: str, err: BadInput) -> dict:
    return {"ref": _shown_ref(text), "registry": None, "repository": None, "tag": None, "ok": False, "checks": [],
            "cache": registry.CacheInfo().to_json(), "error": {"kind": "invalid-ref", "message": err.message, "fix": err.fix}}


def test(args) -> int:
    try:
        ref = refs.parse_cache_ref(args.ref)
    except BadInput as err:
        if args.json:
            _print(_invalid_ref_json(args.ref, err))
            return err.exit_code
        raise
    cred = _credential_for_test(args, ref)
    if not args.json:
        who = f"as {cred.username} ({cred.source or 'given'})" if cred else "anonymously"
        print(f"registry test {ref}  {who}")
    on_check = None if args.json else (lambda c: print(_line(c), flush=True))
    result = registry.run_checks(ref, cred, insecure=args.insecure, ca_cert=args.ca_cert, timeout=args.timeout, on_check=on_check)
    if args.json:
        _print(result.to_json())
    else:
        c = result.cache
        if c.present:
            print(f"cache: {c.layers} layers, {c.size_bytes / 1e6:.1f} MB, {c.records} records, updated {c.updated or 'unknown'}")
        elif result.ok:
            print("cache: none yet (the first build with --export-cache creates it)")
        print("all checks passed" if result.ok else f"FAILED: {result.error['message']}")
    return 0 if result.ok else 1


def run(args) -> int:
    return {"login": login, "logout": logout, "list": list_, "test": test}[args.registry_command](args)
