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

Records carry no step names and are kept for every build the daemon ran (pruning the build cache
does not clear them). So we match by content: a RUN step's exec records by its command (`args`),
then compare their `env`; a COPY's file lists by the file names under its sources, then compare
the content checksums. What this confirms is stated as found, never more.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.request

MAX_BYTES = 64 << 20


def debug_addr(info: dict) -> str | None:
    """The debug address of the builder this build used, when known: request_info["debug_addr"],
    RAILPACK_TUI_BUILDKIT_DEBUG_ADDR, or the sandbox's when the build ran on the sandbox."""
    if info.get("debug_addr"):
        return info["debug_addr"]
    env = os.environ.get("RAILPACK_TUI_BUILDKIT_DEBUG_ADDR")
    if env:
        return env
    try:
        from . import sandbox

        sb = sandbox.load()
    except Exception:
        return None
    if sb is None or not sb.debug_addr:
        return None
    builder = info.get("builder") or os.environ.get("BUILDKIT_HOST") or sb.buildkit_host
    return sb.debug_addr if builder == sb.buildkit_host else None


def fetch_all(addr: str, timeout: float = 5.0) -> list[dict]:
    req = urllib.request.Request(f"http://{addr}/debug/cache/all", headers={"Accept": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        body = resp.read(MAX_BYTES + 1)
    if len(body) > MAX_BYTES:
        raise ValueError("the cache debug database is larger than 64 MiB")
    return json.loads(body) or []


def _data(rec: dict) -> bytes:
    return b"".join(base64.b64decode(f.get("data") or "") for f in rec.get("data") or [] if f.get("type") == 2)


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


def confirm(ctx, executed) -> None:
    """Add `cache_debug` evidence to root-miss explanations of `executed` steps."""
    addr = debug_addr(ctx.info)
    if not addr or ctx.df is None:
        return
    records = fetch_all(addr)
    execs = exec_records(records)
    lists = file_lists(records)
    for step in executed:
        m = step.miss
        if not m or m["kind"] in ("parent-missed", "no-cache", "first-build"):
            continue
        spec = ctx.df.step_at(step.stage or "", step.index) if step.index is not None else None
        ins = spec.instruction if spec else None
        if ins is None:
            continue
        evidence = None
        if ins.cmd == "RUN":
            evidence = _confirm_run(m, ins, execs)
        elif ins.cmd in ("COPY", "ADD") and m["kind"] == "files-changed":
            evidence = _confirm_files(m, ins, lists)
        if evidence is not None:
            evidence["source"] = f"http://{addr}/debug/cache/all"
            m["cache_debug"] = evidence


def _confirm_run(miss: dict, ins, execs: list[dict]) -> dict | None:
    args = _run_args(ins)
    if args is None:
        return None
    same = [e for e in execs if e.get("args") == args]
    kind = miss["kind"]
    if kind == "build-arg-changed":
        names = miss.get("args") or []
        pairs = [(a, b) for i, a in enumerate(same) for b in same[i + 1:]
                 if a.get("cwd") == b.get("cwd") and _env_diff(a.get("env") or [], b.get("env") or [])]
        for a, b in pairs:
            diff = _env_diff(a.get("env") or [], b.get("env") or [])
            if set(diff) & set(names):
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


def _confirm_files(miss: dict, ins, lists: list[dict[str, str]]) -> dict | None:
    sources = [s.strip("/").rstrip("/") for s in ins.sources]
    found = []
    for path in miss.get("modified") or []:
        for src in sources:
            if src in ("", ".") or path.startswith(src + "/"):
                rel = path if src in ("", ".") else path[len(src) + 1:]
                sums = {fl[rel] for fl in lists if rel in fl}
                if len(sums) >= 2:
                    found.append(f"{path}: {len(sums)} different content checksums")
    if found:
        return {"confirmed": True, "evidence": "BuildKit's file lists for the copied directory hold different content "
                "checksums for " + "; ".join(found[:5])}
    return {"confirmed": False, "evidence": "no file list in the debug database shows the change (single-file sources are "
            "hashed without a file list)"}
