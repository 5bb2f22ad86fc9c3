"""BuildKit's cache debug database: the plain text behind real cache keys.

`buildkitd --save-cache-debug --debugaddr ADDR` (BuildKit >= 0.24; the sandbox runs it) keeps, in
`<root>/cache-debug.db`, the bytes hashed into every cache-key digest and serves them over HTTP on
the debug address (moby/buildkit v0.32.2 cmd/buildkitd/debug.go):

- `GET /debug/cache/all` (`Accept: application/json`): every record `{digest, type, data:[{type,
  data(base64)}], subRecords}`; types `json` (an op's cache map: `buildkit.exec.v0` with
  `Exec.meta.args/env/cwd`, `buildkit.file.v0` with its actions, local source options), `string`
  (`<digest>@<output>`, `buildkit.source.v0:...`, `random:...`), `string-list` (copy selectors),
  `digest-list`, `file-list` (name + content checksum per file of a copied directory) and `file`
  (a tar-like header: name, mode, uid, gid, size, ...; contents are hashed but never stored);
- `GET /debug/cache/lookup?digest=sha256:...`: one record with its sub-records;
- `GET /debug/cache/store`: the solver's cache-key store (records, parents, children) with their
  plain texts; `POST /debug/cache/load`: the same for a remote cache config posted in the body.

Image pulls are keyed by `{"Digest", "OS", "Arch"}` JSON, so a base image that resolved to another
digest shows up as a new key with that digest.

Records carry no step names and are kept for every build the daemon ran (pruning the build cache
does not clear them). So we match by content: a RUN step's exec records by its command (`args`),
then compare their `env`; a COPY's file lists by the file names under its sources, then compare
the content checksums. What this confirms is stated as found, never more.
"""

from __future__ import annotations

import json
import os
from binascii import a2b_base64

MAX_BYTES = 64 << 20


def debug_addr(info: dict) -> str | None:
    """The debug address of the builder this build used, when known: request_info["debug_addr"],
    RAILPACK_TUI_BUILDKIT_DEBUG_ADDR, or the sandbox's when the build ran on the sandbox.
    `"debug_addr": None` in request_info turns the lookup off."""
    if "debug_addr" in info:
        return info["debug_addr"] or None
    env = os.environ.get("RAILPACK_TUI_BUILDKIT_DEBUG_ADDR")
    if env:
        return env
    state = _sandbox_state()
    if state is None:
        return None
    addr, host = state.get("debug_addr"), state.get("buildkit_host")
    if not addr or not isinstance(addr, str):
        return None
    builder = info.get("builder") or os.environ.get("BUILDKIT_HOST") or host
    return addr if builder == host else None


SANDBOX_STATE_FILE = "sandbox.json"  # sandbox.STATE_FILE (a test keeps them equal)


def _sandbox_state() -> dict | None:
    """The sandbox's state file, read directly: every build asks for the debug address while
    BuildKit builds, and importing core.sandbox for it cost ~2.5 ms of CPU."""
    try:
        from .paths import sandbox_dir

        state = json.loads((sandbox_dir() / SANDBOX_STATE_FILE).read_text())
    except Exception:  # noqa: BLE001 - no sandbox, or an unreadable state: no address
        return None
    return state if isinstance(state, dict) else None


def fetch_all(addr: str, timeout: float = 5.0) -> list[dict]:
    """Every record of the database (`GET /debug/cache/all`), parsed."""
    return json.loads(_get(addr, "/debug/cache/all", timeout)) or []


def _get(addr: str, path: str, timeout: float) -> bytes:
    """The body of an HTTP/1.0 GET to buildkitd's debug listener (host:port, loopback in practice).
    A plain socket, not urllib: urllib.request brings http.client, email and ssl, ~20 ms of CPU in
    every build. HTTP/1.0, so the answer is never chunked and ends when the server closes."""
    import socket

    host, port = _host_port(addr)
    chunks: list[bytes] = []
    size = 0
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: application/json\r\n\r\n".encode())
        while True:
            chunk = sock.recv(1 << 18)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_BYTES + (1 << 16):
                raise ValueError("the cache debug database is larger than 64 MiB")
    head, sep, body = b"".join(chunks).partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split(None, 2)
    if not sep or len(status) < 2 or not status[0].startswith(b"HTTP/"):
        raise ValueError(f"no HTTP answer from http://{addr}{path}")
    if status[1] != b"200":
        raise ValueError(f"HTTP {status[1].decode(errors='replace')} from http://{addr}{path}: "
                         f"{body[:200].decode(errors='replace').strip()}")
    if len(body) > MAX_BYTES:
        raise ValueError("the cache debug database is larger than 64 MiB")
    return body


def _host_port(addr: str) -> tuple[bytes | str, int]:
    """`host:port` (or `[v6]:port`) for `socket.create_connection`. An ASCII host is given as bytes:
    a str host is encoded with the idna codec, whose first use imports `encodings.idna`,
    `stringprep` and `unicodedata` (~2 ms) in the middle of the fetch after the build."""
    host, _, port = addr.rpartition(":")
    host = host.strip("[]")
    try:
        return host.encode("ascii"), int(port)
    except UnicodeEncodeError:
        return host, int(port)


def warm(addr: str) -> None:
    """What `fetch_all(addr)` needs loaded, done ahead (the runner calls it while BuildKit builds,
    so the fetch after the build pays for neither): the socket module (~2-4 ms to import) and the
    address parsed."""
    import socket  # noqa: F401 - imported for its side effect: loaded once per process

    _host_port(addr)


def _data(rec: dict) -> bytes:
    # binascii's decoder is base64.b64decode's (non-strict) without its per-call wrapper: every
    # record of the database passes here after the build
    return b"".join(a2b_base64(f.get("data") or "") for f in rec.get("data") or [] if f.get("type") == 2)


def exec_records(records: list[dict]) -> list[dict]:
    """The `Exec.meta` ({args, env, cwd, ...}) of every exec op cache map in the database."""
    out = []
    for r in records:
        if r.get("type") != "json":
            continue
        raw = _data(r)
        if b"buildkit.exec.v0" not in raw:
            continue
        try:
            meta = json.loads(raw)["Exec"]["meta"]
        except (ValueError, KeyError, TypeError):
            continue
        meta = dict(meta)
        meta["_digest"] = r.get("digest")
        out.append(meta)
    return out


def file_lists(records: list[dict]) -> list[dict[str, str]]:
    """name -> content checksum, for every file list (copied directories) in the database."""
    out = []
    for r in records:
        if r.get("type") != "file-list":
            continue
        pairs: dict[str, str] = {}
        for piece in _data(r).split(b"\x00"):
            i = piece.rfind(b"sha256:")
            if i < 0:
                continue
            pairs[piece[:i].decode(errors="replace")] = piece[i:].decode(errors="replace")
        out.append(pairs)
    return out


def _run_args(ins) -> list[str] | None:
    from .dockerfile import _json_list

    if ins.json_form:
        return _json_list(ins.args)
    if ins.heredocs:
        return None
    return ["/bin/sh", "-c", ins.args]


def _env_diff(a: list[str], b: list[str]) -> list[str]:
    da = dict(e.split("=", 1) for e in a if "=" in e)
    db = dict(e.split("=", 1) for e in b if "=" in e)
    return sorted(k for k in set(da) | set(db) if da.get(k) != db.get(k))


def _first_pair_differing_in(execs: list[dict], names: list[str]) -> tuple[dict, dict] | None:
    """The first pair (a, b), a before b in `execs`, with the same cwd whose env differs in one of
    `names`, in one pass (the daemon keeps an exec record for every build of a command, so
    comparing every pair grew with the square of its builds). Execs are grouped by cwd; within a
    group the earliest exec pairs with the first later one whose values of `names` differ from
    its own, and if none does, every exec of the group has the same values, so no pair there does."""
    first: dict = {}  # cwd -> (index, exec, values of names, paired already) of the group's earliest exec
    best: tuple[int, dict, dict] | None = None
    for i, e in enumerate(execs):
        cwd = e.get("cwd")
        try:
            hash(cwd)
        except TypeError:  # not a string: only in a malformed record
            cwd = json.dumps(cwd, sort_keys=True)
        env = dict(x.split("=", 1) for x in e.get("env") or [] if "=" in x)
        values = tuple(env.get(n) for n in names)
        g = first.get(cwd)
        if g is None:
            first[cwd] = (i, e, values, False)
        elif not g[3] and values != g[2]:
            first[cwd] = (g[0], g[1], g[2], True)
            if best is None or g[0] < best[0]:
                best = (g[0], g[1], e)
    return (best[1], best[2]) if best is not None else None


def confirm(ctx, executed, records: list[dict] | None = None, execs: list[dict] | None = None) -> None:
    """Add `cache_debug` evidence to root-miss explanations of `executed` steps. `records`: the
    database as read after every step of the build had settled (the runner reads it, and parses
    its `execs` with `exec_records`, while BuildKit exports the cache); None: read it now."""
    addr = debug_addr(ctx.info)
    wanted = [s for s in executed if s.miss and s.miss["kind"] not in ("parent-missed", "no-cache", "first-build")]
    if not addr or ctx.df is None or not wanted:
        return
    if records is None:
        records, execs = fetch_all(addr), None  # execs parsed when a step needs them
    lists: list[dict[str, str]] | None = None
    for step in wanted:
        m = step.miss
        if m["kind"] == "base-image-changed":
            evidence = _confirm_image(m, records)
            evidence["source"] = f"http://{addr}/debug/cache/all"
            m["cache_debug"] = evidence
            continue
        spec = ctx.df.step_at(step.stage or "", step.index) if step.index is not None else None
        ins = spec.instruction if spec else None
        if ins is None:
            continue
        evidence = None
        if ins.cmd == "RUN":
            execs = exec_records(records) if execs is None else execs
            evidence = _confirm_run(m, ins, execs)
        elif ins.cmd in ("COPY", "ADD") and m["kind"] == "files-changed":
            lists = file_lists(records) if lists is None else lists
            evidence = _confirm_files(m, ins, lists, set(ctx.snapshot.files) if ctx.snapshot else set())
        if evidence is not None:
            evidence["source"] = f"http://{addr}/debug/cache/all"
            m["cache_debug"] = evidence


def image_key_digests(records: list[dict]) -> set[str]:
    """Image digests in image-pull cache keys (`{"Digest": ..., "OS": ..., "Arch": ...}`)."""
    out = set()
    for r in records:
        if r.get("type") != "json":
            continue
        raw = _data(r)
        if not raw.startswith(b'{"Digest"'):
            continue
        try:
            out.add(json.loads(raw)["Digest"])
        except (ValueError, KeyError, TypeError):
            continue
    return out


def _confirm_image(miss: dict, records: list[dict]) -> dict:
    def digest(ref: str | None) -> str | None:
        return ref.rsplit("@", 1)[1] if ref and "@" in ref else None
    old, new = digest(miss.get("old")), digest(miss.get("new"))
    keys = image_key_digests(records)
    if new and new in keys and (old is None or old in keys):
        return {"confirmed": True, "evidence": f"the image pull cache keys hold {new[:19]}…"
                + (f" and the earlier {old[:19]}…: the base image's key changed" if old else "")}
    return {"confirmed": False, "evidence": "no image pull cache key with the new digest was found"}


def _confirm_run(miss: dict, ins, execs: list[dict]) -> dict | None:
    args = _run_args(ins)
    if args is None:
        return None
    same = [e for e in execs if e.get("args") == args]
    kind = miss["kind"]
    if kind == "build-arg-changed":
        names = miss.get("args") or []
        pair = _first_pair_differing_in(same, names)
        if pair is not None:
            diff = _env_diff(pair[0].get("env") or [], pair[1].get("env") or [])
            return {"confirmed": True, "evidence": f"{len(same)} exec cache keys for this command; they differ only in "
                    f"env {', '.join(diff)}"}
        return {"confirmed": False, "evidence": f"{len(same)} exec cache keys for this command; none differ in {', '.join(names)}"}
    if kind == "command-changed":
        if same:
            return {"confirmed": True, "evidence": "the builder computed a cache key for the new command text "
                    f"({len(same)} exec key(s) with these args)"}
        return {"confirmed": False, "evidence": "no exec cache key with this command's args was found"}
    if kind == "cache-unavailable":
        distinct = {json.dumps({k: v for k, v in e.items() if k != "_digest"}, sort_keys=True) for e in same}
        if len(distinct) == 1:
            return {"confirmed": True, "evidence": "one exec cache key for this command in the builder's debug database: "
                    "the key did not change, its result was missing"}
        return {"confirmed": False, "evidence": f"{len(distinct)} different exec cache keys for this command"}
    return None


def _confirm_files(miss: dict, ins, lists: list[dict[str, str]], current: set[str]) -> dict | None:
    """Find two file lists of the copied directory (one with the files it had before, one with
    the files it has now) that agree on every unchanged file and differ exactly in the changed ones."""
    added, removed, modified = (set(miss.get(k) or []) for k in ("added", "removed", "modified"))
    for src in (s.strip("/") for s in ins.sources):
        prefix = "" if src in ("", ".") else src + "/"
        if any(c in src for c in "*?["):
            continue
        def rel(paths):
            return {p[len(prefix):] for p in paths if p.startswith(prefix)}
        new_set = rel(current)
        if not new_set:
            continue
        old_set = (new_set - rel(added)) | rel(removed)
        changed = rel(modified)
        if not (changed or rel(added) or rel(removed)):
            continue
        universe = old_set | new_set
        views = [{k: v for k, v in fl.items() if k in universe} for fl in lists[-500:]]
        olds = [v for v in views if set(v) == old_set]
        news = [v for v in views if set(v) == new_set]
        for o in olds:
            for n in news:
                if all(o[k] == n[k] for k in old_set & new_set if k not in changed) and all(o[k] != n[k] for k in changed):
                    what = [f"{prefix}{k} ({o[k][7:19]}… -> {n[k][7:19]}…)" for k in sorted(changed)]
                    what += [f"{prefix}{k} added" for k in sorted(rel(added))] + [f"{prefix}{k} removed" for k in sorted(rel(removed))]
                    return {"confirmed": True, "evidence": f"BuildKit's content checksums for {prefix or './'} (the file list in "
                            "its cache keys) differ exactly in: " + ", ".join(what)}
    return {"confirmed": False, "evidence": "no pair of file lists in the debug database shows exactly this change "
            "(single files are hashed without a file list)"}
