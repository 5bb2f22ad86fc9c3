"""Bad input through the real command line (`python -m railpack_tui.core ...` in a subprocess):
refs, paths, project folders without a Dockerfile, unreadable files, corrupt config and history,
garbage progress streams, bad flags. Every case exits with the contract's code, says what is wrong
and how to fix it, never shows a traceback, and with --json prints the contract's error shape
(`{"ok": false, "error": {"kind", "message"}}`).

No case needs a builder: each is refused before one is contacted, or the builder is missing on
purpose (exit 3)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from railpack_tui.core import credentials

CLI = [sys.executable, "-m", "railpack_tui.core"]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "tui"
SECRET = "hunter2-not-for-echo"


@pytest.fixture()
def world(tmp_path):
    """Private config/data/state/sandbox dirs (no sandbox running, no BUILDKIT_HOST) and a few
    projects and files to point the CLI at."""
    w = tmp_path
    for name in ("config", "data", "state", "sandbox"):
        (w / name).mkdir()
    ok = w / "ok"
    ok.mkdir()
    (ok / "Dockerfile").write_text("FROM scratch\nCOPY Dockerfile /\n")
    (w / "no-dockerfile").mkdir()
    (w / "no-dockerfile" / "app.py").write_text("print('hi')\n")
    (w / "dockerfile-is-dir" / "Dockerfile").mkdir(parents=True)
    (w / "dangling").mkdir()
    (w / "dangling" / "Dockerfile").symlink_to(w / "gone")
    (w / "a-file.txt").write_text("not a directory\n")
    (w / "empty.jsonl").write_text("")
    (w / "garbage.txt").write_bytes(b"garbage\n{\"vertexes\": [1, 2]}\n\x00\xff\xfe{{{\nerror\n")
    (w / "random.bin").write_bytes(bytes(range(256)) * 40)
    (w / "json-not-progress.json").write_text('{"hello": "world"}\n[1, 2, 3]\n"x"\n')
    (w / "odd-types.jsonl").write_text(
        '{"vertexes": "x", "statuses": [null, 5], "logs": [{"vertex": 1, "data": "!!"}]}\n'
        '{"vertexes": [{"digest": "sha256:a", "name": "[1/1] RUN x", "started": "bad", "completed": 5, "inputs": "zz"}]}\n')
    real = (FIXTURES / "cancelled.rawjson.jsonl").read_bytes()
    (w / "truncated.jsonl").write_bytes(real[:2000])
    return w


def env_for(w: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("BUILDKIT_HOST", None)
    env.update({"RAILPACK_TUI_CONFIG_DIR": str(w / "config"), "RAILPACK_TUI_DATA_DIR": str(w / "data"),
                "RAILPACK_TUI_STATE_DIR": str(w / "state"), "RAILPACK_TUI_SANDBOX_DIR": str(w / "sandbox"),
                "TMPDIR": str(w)})
    env.update(extra)
    return env


def run(w: Path, args: list[str], stdin: str = "", **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + args, input=stdin, capture_output=True, text=True, timeout=60, env=env_for(w, **extra))


def run_both(w: Path, args: list[str], stdin: str = "") -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    """The text and the --json form of one command, run side by side (half the wall time)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        text = pool.submit(run, w, args, stdin)
        as_json = pool.submit(run, w, args + ["--json"], stdin)
        return text.result(), as_json.result()


def check(result: subprocess.CompletedProcess, code: int, *words: str) -> str:
    """The exit code, no traceback, and the words (lowercase) somewhere in what was printed."""
    out = result.stdout + result.stderr
    assert "Traceback" not in out, out
    assert result.returncode == code, (result.returncode, out)
    for word in words:
        assert word.lower() in out.lower(), (word, out)
    return out


# (id, argv with {w} for the world dir, stdin, exit code, words the message must hold)
CASES = [
    # references
    ("ref-spaces", ["build", "{w}/ok", "--cache-ref", "Not A Ref"], "", 2, ["space", "fix"]),
    ("ref-uppercase", ["build", "{w}/ok", "--cache-ref", "UPPER/Case:x"], "", 2, ["uppercase", "fix"]),
    ("ref-colons", ["build", "{w}/ok", "--cache-ref", ":::"], "", 2, ["fix"]),
    ("ref-url-scheme", ["build", "{w}/ok", "--cache-ref", "http://registry.example/x:y"], "", 2, ["http://", "fix"]),
    ("ref-bad-digest", ["build", "{w}/ok", "--cache-ref", "h.io/x@sha256:abc"], "", 2, ["digest", "fix"]),
    ("ref-too-long", ["build", "{w}/ok", "--cache-ref", "r.io/" + "a" * 300 + ":t"], "", 2, ["255", "fix"]),
    ("ref-bad-port", ["registry", "test", "localhost:99999/x:y"], "", 2, ["99999", "fix"]),
    ("ref-test-spaces", ["registry", "test", "not a ref"], "", 2, ["space"]),
    ("ref-push-output", ["build", "{w}/ok", "--output", "push=Bad Ref"], "", 2, ["space", "fix"]),
    ("login-bad-ref", ["registry", "login", "Bad Ref", "--username", "u", "--password-stdin"], "pw", 2, ["fix"]),
    ("login-no-stdin-flag", ["registry", "login", "r.example/x", "--username", "u"], "", 2,
     ["standard input", "--password-stdin"]),
    # paths and projects
    ("path-missing", ["build", "{w}/nope"], "", 2, ["does not exist", "fix"]),
    ("path-is-file", ["build", "{w}/a-file.txt"], "", 2, ["is a file, not a project directory", "fix"]),
    ("path-is-the-dockerfile", ["build", "{w}/ok/Dockerfile"], "", 2,
     ["is a file, not a project directory", "railpack-tui build {w}/ok"]),
    ("progress-file-dir-missing", ["build", "{w}/ok", "--progress-file", "{w}/nope/p.jsonl"], "", 2,
     ["--progress-file", "does not exist", "fix"]),
    ("progress-file-is-dir", ["build", "{w}/ok", "--progress-file", "{w}/ok"], "", 2,
     ["--progress-file", "is a directory", "fix"]),
    ("no-dockerfile", ["build", "{w}/no-dockerfile"], "", 2, ["no dockerfile", "add a dockerfile"]),
    ("dockerfile-is-dir", ["build", "{w}/dockerfile-is-dir"], "", 2, ["dockerfile", "fix"]),
    ("dockerfile-dangling", ["build", "{w}/dangling"], "", 2, ["dockerfile", "fix"]),
    ("tls-dir-missing", ["build", "{w}/ok", "--builder", "tcp://127.0.0.1:1", "--tls-dir", "{w}/nope"], "", 2,
     ["tls", "fix"]),
    ("history-path-missing", ["history", "{w}/nope"], "", 2, ["does not exist", "fix"]),
    ("demo-no-dockerfile", ["demo", "{w}/no-dockerfile", "--cache-ref", "127.0.0.1:1/x:y"], "", 2, ["dockerfile"]),
    # flags
    ("build-arg-no-value", ["build", "{w}/ok", "--build-arg", "NOVALUE"], "", 2, ["NAME=VALUE"]),
    ("build-arg-no-name", ["build", "{w}/ok", "--build-arg", "=x"], "", 2, ["NAME=VALUE"]),
    ("engine-unknown", ["build", "{w}/ok", "--engine", "podman"], "", 2, ["--help"]),
    ("mode-unknown", ["build", "{w}/ok", "--mode", "huge"], "", 2, ["--help"]),
    ("command-unknown", ["bogus"], "", 2, ["invalid choice", "--help"]),
    ("path-missing-arg", ["build"], "", 2, ["required", "--help"]),
    ("theme-unknown", ["--theme", "nope"], "", 2, ["railpack-dark"]),
    ("project-is-a-file", ["--project", "{w}/a-file.txt"], "", 2, ["is a file, not a project directory", "pass the directory"]),
    ("serve-project-is-a-file", ["--project", "{w}/a-file.txt", "serve", "--port", "1"], "", 2, ["is a file", "fix"]),
    ("project-missing", ["--project", "{w}/nope"], "", 2, ["does not exist", "fix"]),
    ("history-limit", ["history", "{w}/ok", "--limit", "0"], "", 2, ["--limit"]),
    ("serve-port", ["serve", "--port", "99999"], "", 2, ["65535"]),
    # refused up front, not served to every browser tab as a dashboard that exits at once
    ("serve-theme-unknown", ["--theme", "nope", "serve", "--port", "18123"], "", 2, ["unknown theme", "railpack-dark"]),
    # not "port already in use" (exit 3): the address is wrong, not busy
    ("serve-host-not-local", ["serve", "--host", "192.0.2.1", "--port", "18123"], "", 2, ["cannot listen on 192.0.2.1", "--host"]),
    ("serve-host-unknown", ["serve", "--host", "nosuch.invalid", "--port", "18123"], "", 2, ["cannot listen on nosuch.invalid"]),
    ("timeout-not-number", ["registry", "test", "r.example/x:y", "--timeout", "soon"], "", 2, ["--help"]),
    # builders
    ("builder-scheme", ["build", "{w}/ok", "--builder", "ftp://x"], "", 2, ["fix"]),
    ("builder-missing-socket", ["build", "{w}/ok", "--builder", "unix:///nonexistent/buildkitd.sock"], "", 3,
     ["not reachable", "fix"]),
    ("no-builder", ["build", "{w}/ok"], "", 3, ["no builder", "sandbox up"]),
    # files that are not progress streams
    ("report-missing", ["report", "{w}/nope.jsonl"], "", 2, ["no such file", "fix"]),
    ("report-directory", ["report", "{w}"], "", 2, ["directory", "fix"]),
    ("report-empty", ["report", "{w}/empty.jsonl"], "", 2, ["no buildkit progress", "rawjson"]),
    ("report-garbage", ["report", "{w}/garbage.txt"], "", 2, ["no buildkit progress", "rawjson"]),
    ("report-binary", ["report", "{w}/random.bin"], "", 2, ["no buildkit progress"]),
    ("report-json-not-progress", ["report", "{w}/json-not-progress.json"], "", 2, ["no buildkit progress"]),
    ("report-unreadable", ["report", "/proc/self/mem"], "", 2, ["cannot read", "fix"]),
    ("report-format-mismatch", ["report", str(FIXTURES / "cancelled.rawjson.jsonl"), "--format", "plain"], "", 2,
     ["no buildkit progress"]),
]


def _argv(args: list[str], w: Path) -> list[str]:
    return [a.replace("{w}", str(w)) for a in args]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_text_and_json(case, world):
    _, args, stdin, code, words = case
    argv = _argv(args, world)
    if argv and argv[0] in ("--theme", "--project"):  # the dashboard (and serve) have no --json
        text, result = run(world, argv, stdin), None
    else:
        text, result = run_both(world, argv, stdin)
    out = check(text, code, *_argv(words, world))
    assert SECRET not in out
    assert not (world / "sandbox" / "sandbox.json").exists(), "bad input started the sandbox"
    if result is None:
        return
    check(result, code)
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert isinstance(data["error"]["kind"], str) and data["error"]["kind"]
    assert isinstance(data["error"]["message"], str) and len(data["error"]["message"]) > 10


def test_a_password_in_a_ref_is_refused_and_never_echoed(world):
    for argv in (["build", f"{world}/ok", "--cache-ref", f"user:{SECRET}@r.example/x:y"],
                 ["registry", "test", f"user:{SECRET}@r.example/x:y"]):
        for extra in ([], ["--json"]):
            out = check(run(world, argv + extra), 2, "credentials")
            assert SECRET not in out


def test_an_empty_password_on_stdin(world):
    r = run(world, ["registry", "login", "r.example/x", "--username", "u", "--password-stdin"], "")
    if credentials.keyring_status().usable:  # scripts/with-keyring: the keyring is checked first
        check(r, 2, "empty", "fix")
    else:
        check(r, 3, "keyring", "fix")


@pytest.mark.parametrize("name", ["truncated.jsonl", "odd-types.jsonl"])
def test_garbage_progress_streams_are_reported_not_crashed(name, world):
    """A stream cut in the middle, and JSON progress with the wrong types: a report (never
    `success`), exit 1, no traceback."""
    r = run(world, ["report", str(world / name)])
    out = check(r, 1, "build: incomplete")
    r = run(world, ["report", str(world / name), "--json"])
    check(r, 1)
    assert json.loads(r.stdout)["status"] == "incomplete", out


def test_corrupt_history_database_is_set_aside(world):
    db = world / "data" / "history.sqlite3"
    db.write_bytes(b"SQLite format 3\x00" + os.urandom(4000))
    r = run(world, ["history", str(world / "ok")])
    out = check(r, 0, "could not be used", "set aside")
    assert list((world / "data").glob("history.sqlite3.broken-*")), out
    r = run(world, ["history", str(world / "ok"), "--json"])
    check(r, 0)
    assert json.loads(r.stdout)["runs"] == []
    # a database with the wrong tables is set aside too
    shutil.rmtree(world / "data")
    (world / "data").mkdir()
    con = sqlite3.connect(world / "data" / "history.sqlite3")
    con.execute("CREATE TABLE runs (x TEXT)")
    con.commit()
    con.close()
    check(run(world, ["history", str(world / "ok"), "--json"]), 0)


def test_history_database_that_is_a_directory(world):
    (world / "data" / "history.sqlite3").mkdir()
    r = run(world, ["history", str(world / "ok"), "--json"])
    check(r, 0)
    data = json.loads(r.stdout)
    assert data["runs"] == []
    assert data["notices"], "the reason history is not kept should be said"


@pytest.mark.parametrize("content", ["{broken", '"a string"', '{"entries": [{"host": 5}, "x", null]}', ""])
def test_corrupt_registries_index(content, world):
    (world / "config" / "credentials.json").write_text(content)
    unreadable = not content.startswith('{"entries"')  # a readable index just skips its bad entries
    words = ["credentials.json", "Fix:", "registry login"] if unreadable else []
    check(run(world, ["registry", "list"]), 0, "keyring", *words)
    r = run(world, ["registry", "list", "--json"])
    check(r, 0)
    data = json.loads(r.stdout)
    assert data["credentials"] == []
    assert len(data["notices"]) == int(unreadable), data


@pytest.mark.parametrize("content", ["{broken", "[]", '{"dir": 5, "buildkitd": "x"}'])
def test_corrupt_sandbox_state(content, world):
    (world / "sandbox" / "sandbox.json").write_text(content)
    check(run(world, ["sandbox", "status"]), 1, "not running", "sandbox up")
    r = run(world, ["sandbox", "status", "--json"])
    check(r, 1)
    assert json.loads(r.stdout)["running"] is False
    check(run(world, ["build", str(world / "ok")]), 3, "no builder", "sandbox up")


def test_registry_list_without_a_keyring_marks_keyring_logins_unavailable(world):
    """A login saved in a keyring earlier (its name is in the index) cannot be read in a session
    without one: `registry list` said "keyring" under "no OS keyring is available"."""
    (world / "config" / "credentials.json").write_text(json.dumps({"entries": [{"host": "ghcr.example.org", "username": "bob"}]}))
    out = check(run(world, ["registry", "list"], PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring"), 0)
    row = next(line for line in out.splitlines() if "ghcr.example.org" in line)
    assert "bob" in row and "unavailable" in row, out
    listed = json.loads(check(run(world, ["registry", "list", "--json"], PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring"), 0))
    assert [(c["host"], c["store"], c["available"]) for c in listed["credentials"]] == [("ghcr.example.org", "keyring", False)]


def test_registry_test_with_a_username_and_no_keyring_names_password_stdin(world):
    """Exit 3 (no keyring), and the fix names the way that works right now: the password on stdin."""
    r = run(world, ["registry", "test", "127.0.0.1:1/x:y", "--username", "bob"], PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    out = check(r, 3, "no usable keyring")
    assert "registry test 127.0.0.1:1/x:y --username bob --password-stdin" in out, out


def test_an_endless_stream_is_refused_in_bounded_memory(world):
    """/dev/zero: not progress, exit 2. It was read whole as one line (2 GB in 4 s, never
    ending); the process runs under a 1 GiB address-space limit, so reading it whole fails the
    test (MemoryError, exit 1) instead of the machine."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    for extra in ([], ["--json"]):
        r = subprocess.run(CLI + ["report", "/dev/zero"] + extra, capture_output=True, text=True, timeout=60,
                           env=env_for(world), preexec_fn=limit)
        check(r, 2, "no buildkit progress")


def test_a_file_where_the_sandbox_directory_goes(world):
    """RAILPACK_TUI_SANDBOX_DIR naming a file: `sandbox up` said 'internal error: FileExistsError'
    (exit 1, a crash log); now exit 3 with the fix. The dashboard starts the sandbox the same way
    (core.defaults.resolve) and now opens with that notice instead of ending in the same crash."""
    from railpack_tui.core import sandbox, tools

    if tools.missing(sandbox.REQUIRED_TOOLS) or os.geteuid() != 0:
        pytest.skip("sandbox up checks its tools and root first")
    (world / "sandbox").rmdir()
    (world / "sandbox").write_text("not a directory\n")
    text, result = run_both(world, ["sandbox", "up"])
    check(text, 3, "cannot use the sandbox directory", "RAILPACK_TUI_SANDBOX_DIR")
    check(result, 3)
    assert json.loads(result.stdout)["error"]["kind"] == "sandbox-dir"
    env = env_for(world)
    code = ("import os; from railpack_tui.core import defaults; "
            f"s = defaults.resolve(project={str(world / 'ok')!r}); print(s.builder, s.notices)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    assert "None" in r.stdout and "cannot use the sandbox directory" in r.stdout, r.stdout


def test_a_file_where_the_data_directory_goes(world):
    """The dashboard without --project prepares the bundled example in the data directory: a file
    there ended in 'internal error: NotADirectoryError' (exit 1, a crash log); now exit 3 with
    the fix, before the sandbox or the dashboard starts."""
    (world / "data").rmdir()
    (world / "data").write_text("not a directory\n")
    r = run(world, [], RAILPACK_TUI_DATA_DIR=str(world / "data"))
    check(r, 3, "cannot prepare the bundled example", "RAILPACK_TUI_DATA_DIR", "--project")
    assert not (world / "state" / "logs" / "crash.log").exists()
    assert not (world / "sandbox" / "sandbox.json").exists()
