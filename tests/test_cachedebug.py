"""core.cachedebug on its own: the RUN confirmation's comparison of a command's exec records, and
what reading the debug database costs a build (no urllib)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from railpack_tui.core import cachedebug, project

INS = project.dockerfile_mod.parse('FROM scratch\nARG V=1\nRUN echo "$V"\n').stages[0].instructions[1]
ARGS = ["/bin/sh", "-c", 'echo "$V"']


def _every_pair(miss: dict, execs: list[dict]) -> dict:
    """The confirmation as it was first written: every pair of the command's exec records compared."""
    same = [e for e in execs if e.get("args") == ARGS]
    names = miss.get("args") or []
    diff = cachedebug._env_diff
    pairs = [(a, b) for i, a in enumerate(same) for b in same[i + 1:]
             if a.get("cwd") == b.get("cwd") and diff(a.get("env") or [], b.get("env") or [])]
    for a, b in pairs:
        d = diff(a.get("env") or [], b.get("env") or [])
        if set(d) & set(names):
            return {"confirmed": True, "evidence": f"{len(same)} exec cache keys for this command; they differ only in "
                    f"env {', '.join(d)}"}
    return {"confirmed": False, "evidence": f"{len(same)} exec cache keys for this command; none differ in {', '.join(names)}"}


exec_record = st.fixed_dictionaries({
    "args": st.sampled_from([ARGS, ["/bin/sh", "-c", "other"]]),
    "cwd": st.sampled_from(["/", "/app", None]),
    "env": st.lists(st.sampled_from(["PATH=/bin", "V=1", "V=2", "V=", "W=1", "W=2", "X=1", "NOEQUALS"]), max_size=5),
})


@settings(max_examples=300, deadline=None)
@given(st.lists(exec_record, max_size=14), st.lists(st.sampled_from(["V", "W", "Y"]), max_size=2, unique=True))
def test_build_arg_evidence_is_what_comparing_every_pair_gave(execs, names):
    miss = {"kind": "build-arg-changed", "args": names}
    assert cachedebug._confirm_run(miss, INS, execs) == _every_pair(miss, execs)


def test_build_arg_evidence_does_not_compare_every_pair(monkeypatch):
    """A daemon keeps an exec record for every build of a command: 200 builds made ~20,000
    env comparisons after each build."""
    execs = [{"args": ARGS, "cwd": "/", "env": ["PATH=/bin", "V=1", f"RUN_ID={i}"]} for i in range(200)]
    execs.append({"args": ARGS, "cwd": "/", "env": ["PATH=/bin", "V=2", "RUN_ID=200"]})
    calls = []
    real = cachedebug._env_diff
    monkeypatch.setattr(cachedebug, "_env_diff", lambda a, b: calls.append(1) or real(a, b))
    ev = cachedebug._confirm_run({"kind": "build-arg-changed", "args": ["V"]}, INS, execs)
    assert ev == {"confirmed": True, "evidence": "201 exec cache keys for this command; they differ only in env RUN_ID, V"}
    assert len(calls) <= 1


def test_reading_the_debug_database_does_not_import_urllib():
    """urllib.request (http.client, email, ssl) costs ~20 ms of CPU; every build reads the
    sandbox's state and the debug database."""
    code = ("import sys\nfrom railpack_tui.core import cachedebug, sandbox\n"
            "sandbox.load()\n"
            "try:\n    cachedebug.fetch_all('127.0.0.1:1', timeout=0.5)\nexcept OSError:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('urllib.request', 'http.client'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().replace("'", '"')) == []


def test_reading_the_debug_database_does_not_load_the_idna_codec():
    """A str host is encoded with the idna codec (encodings.idna, stringprep, unicodedata: ~2 ms)
    by the fetch that follows every build; an ASCII host goes to the socket as bytes."""
    code = ("import sys\nfrom railpack_tui.core import cachedebug\n"
            "for addr in ('127.0.0.1:1', '[::1]:1'):\n"
            "    try:\n        cachedebug.fetch_all(addr, timeout=0.5)\n    except OSError:\n        pass\n"
            "print([m for m in ('encodings.idna', 'stringprep', 'unicodedata') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_debug_address_host_and_port():
    assert cachedebug._host_port("127.0.0.1:35977") == (b"127.0.0.1", 35977)
    assert cachedebug._host_port("[::1]:8080") == (b"::1", 8080)
    assert cachedebug._host_port("bücher.test:80") == ("bücher.test", 80)  # not ASCII: socket's own idna


def test_warm_loads_what_the_fetch_needs():
    code = ("import sys\nfrom railpack_tui.core import cachedebug\n"
            "before = 'socket' in sys.modules\ncachedebug.warm('127.0.0.1:35977')\n"
            "print(before, 'socket' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


@given(st.lists(st.binary(max_size=300), max_size=4), st.integers(min_value=1, max_value=76))
@settings(max_examples=200, deadline=None)
def test_record_data_decodes_as_b64decode_did(pieces, wrap):
    """`_data` decodes each data frame as base64.b64decode (non-strict) did: line breaks inside
    the text are skipped, frames of other types are left out."""
    import base64

    texts = [base64.b64encode(p).decode() for p in pieces]
    texts = ["\n".join(t[i:i + wrap] for i in range(0, len(t), wrap)) for t in texts]
    rec = {"data": [{"type": 2, "data": t} for t in texts] + [{"type": 1, "data": "aWdub3JlZA=="}, {"type": 2}]}
    assert cachedebug._data(rec) == b"".join(base64.b64decode(t) for t in texts) == b"".join(pieces)


def test_the_sandbox_debug_address_without_importing_the_sandbox_module(sandbox):
    from railpack_tui.core import sandbox as sandbox_mod

    assert cachedebug.SANDBOX_STATE_FILE == sandbox_mod.STATE_FILE
    code = ("import json, sys\nfrom railpack_tui.core import cachedebug\n"
            f"on = cachedebug.debug_addr({{'builder': {sandbox.buildkit_host!r}}})\n"
            "other = cachedebug.debug_addr({'builder': 'tcp://127.0.0.1:1'})\n"
            "print(json.dumps([on, other, 'railpack_tui.core.sandbox' in sys.modules]))\n")
    env = {k: v for k, v in os.environ.items() if k not in ("BUILDKIT_HOST", "RAILPACK_TUI_BUILDKIT_DEBUG_ADDR")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(env, RAILPACK_TUI_SANDBOX_DIR=sandbox.dir))
    assert json.loads(out.stdout) == [sandbox.debug_addr, None, False]
    assert sandbox.debug_addr
