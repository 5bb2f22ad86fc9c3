"""Why did a step miss the cache? One kind per executed step, with its evidence.

For each executed step: if the build asked for no cache -> `no-cache`. If an ancestor step executed
-> `parent-missed`, pointing at the root miss it descends from. Otherwise (a root miss) compare with
the newest earlier build of the same project after which the step was in the cache (it was cached,
or it executed and its result was stored), matched by NAME (vertex
digests change every build after a context COPY) and, because a RUN's name carries its (expanded)
command, also by stage + index:

- `first-build`: no earlier build of this project ran or cached the step;
- `base-image-changed`: the FROM step resolved to another digest;
- `command-changed`: the instruction text differs (a unified diff in `diff`), or an ENV line before
  it in the stage changed;
- `build-arg-changed`: a declared ARG in effect changed value (a declared ARG becomes env for every
  later RUN of its stage, so it busts them all, used or not);
- `files-changed`: the step copies from the build context and files under its sources changed
  (`files`, with `added`/`removed`/`modified`); a copied file (not a folder) is named alone:
  "requirements.txt changed";
- `cache-unavailable`: nothing above changed: the import failed, the ref was empty, the cache was
  exported with mode=min, the ref was overwritten, or the builder evicted it (whichever the
  evidence shows).

Where the builder keeps BuildKit's cache debug database (`buildkitd --save-cache-debug`: the
sandbox does) `core.cachedebug` reads the plain text behind the real cache keys and adds
`confirmed` evidence under `cache_debug`.
"""

from __future__ import annotations

import difflib
import fnmatch
import posixpath
import re
from dataclasses import dataclass, field

from . import dockerfile as dockerfile_mod
from .history import IN_CACHE

KINDS = ("first-build", "command-changed", "files-changed", "build-arg-changed", "base-image-changed",
         "parent-missed", "cache-unavailable", "no-cache")
MAX_FILES = 50


def _miss(kind: str, detail: str, files: list[str] | None = None, **extra) -> dict:
    d = {"kind": kind, "detail": detail, "files": list(files or [])}
    d.update({k: v for k, v in extra.items() if v is not None})
    return d


class Earlier:
    """A project's newest earlier runs, newest first, with their steps: read once per build (the
    runner reads them in a thread while BuildKit builds) and searched in memory for every root miss;
    the history is asked again only for what lies beyond them. `parsed` keeps each compared run's
    context with its Dockerfile parsed, the newest run's read up front."""

    LIMIT = 50

    def __init__(self, history, project: str, before: int | None = None):
        self.history = history
        self.project = project
        self.runs = history.previous_runs(project, before, limit=self.LIMIT) if project else []
        self.complete = len(self.runs) < self.LIMIT  # every earlier run of the project is in `runs`
        self.parsed: dict = {}
        if self.runs:
            self.context(self.runs[0])

    def context(self, run) -> tuple[dict, dockerfile_mod.Dockerfile | None]:
        """(context, parsed Dockerfile) of an earlier run."""
        if run.id not in self.parsed:
            context = run.context() or {}
            self.parsed[run.id] = (context, _parse(context.get("dockerfile_text")))
        return self.parsed[run.id]

    def current(self, history, project: str, before: int | None) -> bool:
        """Still what the history holds before `before` (no run of the project recorded since)?"""
        newest = self.runs[0].id if self.runs else None
        return history is self.history and project == self.project and history.newest_run_id(project, before) == newest

    def with_step(self, match):
        """The newest run with a step for which match(step) holds, and whether the search was complete."""
        return next((r for r in self.runs if any(match(s) for s in r.steps)), None), self.complete


@dataclass
class _Ctx:
    model: object
    snapshot: object
    history: object
    info: dict
    project: str
    run_id: int | None
    df: dockerfile_mod.Dockerfile | None
    earlier: Earlier
    # this build's files in the shape history stores, converted once per build
    files: dict | None = None

    def previous_context(self, run) -> tuple[dict, dockerfile_mod.Dockerfile | None]:
        """(context, parsed Dockerfile) of an earlier run."""
        return self.earlier.context(run)

    def snapshot_files(self) -> dict:
        if self.files is None:
            self.files = {k: {"size": v.size, "mode": v.mode, "sha256": v.sha256}
                          for k, v in (self.snapshot.files.items() if self.snapshot else [])}
        return self.files


def annotate(model, snapshot, history, request_info, earlier: Earlier | None = None,
             debug_records: tuple[list[dict], list[dict]] | None = None) -> None:
    """Set `step.miss` on every executed step of `model` (None on the others). Compared with the
    runs before `request_info["run_id"]` (the model's run when it was recorded here), else with
    every run in the history: the runner explains a build before recording it, with its misses.
    `earlier`: the project's earlier runs read ahead (used when the history has not moved since).
    `debug_records`: (records, their exec records) of the builder's cache debug database, read
    once every step had settled (None: read when needed, see `cachedebug.confirm`)."""
    from . import history as history_mod

    if not isinstance(history, history_mod.History):
        history = history_mod.default()
    info = dict(request_info or {})
    project = history_mod._norm(info.get("project") or (snapshot.project_path if snapshot else ""))
    run_id = info.get("run_id") or history.run_id_of(model)
    df = snapshot.dockerfile() if snapshot is not None else None
    if earlier is None or not earlier.current(history, project, run_id):
        earlier = Earlier(history, project, run_id)
    ctx = _Ctx(model, snapshot, history, info, project, run_id, df, earlier)
    steps = list(getattr(model, "steps", []) or [])
    executed = [s for s in steps if s.state in ("executed", "error")]
    for s in steps:
        if s.state not in ("executed", "error"):
            s.miss = None
    if not executed:
        return _store(ctx, steps)
    roots = set(model.root_misses()) if hasattr(model, "root_misses") else {s.name for s in executed}
    parents = _parents(model)
    by_id = {s.id: s for s in steps}
    for s in executed:
        if info.get("no_cache"):
            s.miss = _miss("no-cache", "the build was asked to ignore every cache (--no-cache)")
        elif s.name not in roots and s.state == "executed":
            root = _root_of(s, by_id, parents, roots)
            s.miss = _miss("parent-missed", f"an earlier step it depends on executed: the cache broke at {root!r}"
                           if root else "an earlier step it depends on executed", root=root)
        else:
            try:
                s.miss = _explain_root(ctx, s)
            except Exception as exc:  # a bug here must not cost the user the build result
                from .crashlog import record as crash

                where = crash(exc)
                s.miss = None
                getattr(history, "notices", []).append(f"could not explain why {s.name!r} missed; details in {where}")
    _confirm_with_cache_debug(ctx, executed, debug_records)
    _store(ctx, steps)


def _store(ctx: _Ctx, steps) -> None:
    if ctx.run_id is not None and hasattr(ctx.history, "set_misses"):
        try:
            ctx.history.set_misses(ctx.run_id, {s.name: s.miss for s in steps})
        except Exception:
            pass


def _parents(model) -> dict[str, list[str]]:
    """Step id -> nearest ancestor step ids (BuildModel.parents)."""
    fn = getattr(model, "parents", None)
    try:
        return fn() if callable(fn) else {}
    except Exception:
        return {}


def _root_of(step, by_id: dict, parents: dict, roots: set) -> str | None:
    """The nearest executed root-miss ancestor, walking the vertex graph (`by_id`: step id -> step)."""
    stack, seen = list(parents.get(step.id, ())), set()
    while stack:
        vid = stack.pop(0)
        if vid in seen:
            continue
        seen.add(vid)
        p = by_id.get(vid)
        if p is None:
            continue
        if p.state == "executed" and p.name in roots:
            return p.name
        stack.extend(parents.get(vid, ()))
    return next(iter(sorted(roots)), None)


# ------------------------------------------------------------------ root misses

def _find_previous(ctx: _Ctx, step):
    """(run, its step record, how matched) for the newest earlier build after which this step was in
    the cache (cached, or executed: its result was stored): by name; else by stage + instruction
    text (its index moved because a step was added or removed before it); else by stage + index
    (its text changed). The earlier runs read ahead are searched first, the history beyond them."""
    h = ctx.history
    if not ctx.project:
        return None, None, None
    by_name, complete = ctx.earlier.with_step(lambda s: s.name == step.name and s.state in IN_CACHE)
    if by_name is None and not complete:
        by_name = h.previous_with_cached_step(ctx.project, step.name, ctx.run_id)
    if by_name:
        return by_name, by_name.step(step.name), "name"
    text = _text(step.name)
    for run in ctx.earlier.runs:
        for old in run.steps:
            if old.state in IN_CACHE and (old.stage or "") == (step.stage or "") and _text(old.name) == text:
                return run, old, "text"
    if step.index is not None:
        stage = step.stage or ""
        by_pos, complete = ctx.earlier.with_step(
            lambda s: (s.stage or "") == stage and s.index == step.index and s.state in IN_CACHE)
        if by_pos is None and not complete:
            by_pos = h.previous_with_step_at(ctx.project, step.stage, step.index, ctx.run_id)
        if by_pos:
            return by_pos, by_pos.step_at(step.stage, step.index), "position"
    return None, None, None


def _spec(df: dockerfile_mod.Dockerfile | None, stage: str | None, index: int | None):
    if df is None or index is None:
        return None
    return df.step_at(stage or "", index)


def _explain_root(ctx: _Ctx, step) -> dict:
    prev, prev_step, how = _find_previous(ctx, step)
    if prev is None:
        earlier = ctx.earlier.runs[:1]
        if not earlier:
            return _miss("first-build", "the first recorded build of this project: nothing to compare with")
        return _miss("first-build", "no earlier build of this project ran this step: nothing to compare with",
                     compared_run=earlier[0].id)
    _, prev_df = ctx.previous_context(prev)
    spec = _spec(ctx.df, step.stage, step.index)
    prev_spec = _spec(prev_df, prev_step.stage if prev_step else step.stage, prev_step.index if prev_step else step.index)
    run = prev.id
    # FROM: the base image digest
    if (spec is not None and spec.kind == "FROM") or _text(step.name).startswith("FROM "):
        old, new = _text(prev_step.name) if prev_step else "", _text(step.name)
        if old != new:
            return _miss("base-image-changed", f"the base image resolved to another digest: {_from_ref(new)} (build #{run} used {_from_ref(old)})",
                         compared_run=run, old=_from_ref(old), new=_from_ref(new))
    if spec is not None and prev_spec is not None:
        ins, old_ins = spec.instruction, prev_spec.instruction
        build_args = ctx.snapshot.build_args if ctx.snapshot else {}
        if ins is not None and old_ins is not None and ins.code != old_ins.code:
            diff = _diff([old_ins.code], [ins.code], run)
            return _miss("command-changed", f"the instruction changed since build #{run}: {old_ins.code!r} -> {ins.code!r}",
                         compared_run=run, diff=diff)
        # the instructions before it (one added or removed gives it another parent)
        before_old, before_new = _before(prev_df, prev_spec), _before(ctx.df, spec)
        if before_old != before_new:
            diff = _diff(before_old, before_new, run)
            return _miss("command-changed", f"the instructions before it in stage {spec.stage.display or '(single)'} "
                         f"changed since build #{run}, so it builds on another parent", compared_run=run, diff=diff)
        # ENV lines before it in the stage chain
        env_old = _env_lines(prev_df, prev_spec)
        env_new = _env_lines(ctx.df, spec)
        if env_old != env_new and ins is not None and ins.cmd == "RUN":
            diff = _diff(env_old, env_new, run)
            return _miss("command-changed", f"an ENV line before this step changed since build #{run}", compared_run=run, diff=diff)
        # declared ARGs in effect
        if ins is not None and ins.cmd == "RUN":
            changed = _changed_args(ctx.df, spec, build_args, prev_df, prev_spec, prev.build_args or {})
            if changed:
                names = ", ".join(f"{k} ({o!r} -> {n!r})" for k, o, n in changed)
                return _miss("build-arg-changed",
                             f"build arg {names} changed since build #{run}; a declared ARG becomes env for every later RUN "
                             "of its stage, so it busts them all, used or not", compared_run=run,
                             args=[k for k, _, _ in changed])
        # an ARG used in a COPY/ADD/WORKDIR (its expanded name differs)
        if ins is not None and ins.cmd != "RUN" and prev_step is not None and _text(prev_step.name) != _text(step.name):
            changed = _changed_args(ctx.df, spec, build_args, prev_df, prev_spec, prev.build_args or {})
            if changed:
                names = ", ".join(f"{k} ({o!r} -> {n!r})" for k, o, n in changed)
                return _miss("build-arg-changed", f"build arg {names}, used in this instruction, changed since build #{run}",
                             compared_run=run, args=[k for k, _, _ in changed])
        # files from the context
        if ins is not None and ins.from_context:
            env = ctx.df.env(spec.stage, ins.line, build_args)
            sources = [_expand_src(src, env) for src in ins.sources]
            changed = _files_miss(ctx, prev, sources)
            if changed:
                return changed
    elif how == "position" and prev_step is not None and _text(prev_step.name) != _text(step.name):
        diff = _diff([_text(prev_step.name)], [_text(step.name)], run)
        return _miss("command-changed", f"the step changed since build #{run}", compared_run=run, diff=diff)
    elif ctx.df is None and _RAILPACK_COPY.match(step.name or ""):
        # a Railpack plan's context copy: `copy SRC` (Railpack's name when source and destination are
        # one path) or BuildKit's own `copy SRC DEST`; sources are relative to the context
        words = _RAILPACK_COPY.match(step.name).group(1).split()
        sources = [w.lstrip("/") or "." for w in (words[:-1] if len(words) > 1 else words)]
        changed = _files_miss(ctx, prev, sources)
        if changed:
            return changed
    return _cache_unavailable(ctx, step, prev)


_RAILPACK_COPY = re.compile(r"^copy ((?!--from)\S.*)$")


def _files_miss(ctx: _Ctx, prev, sources: list[str]) -> dict | None:
    run = prev.id
    old_files = ctx.previous_context(prev)[0].get("files") or {}
    added, removed, modified = _changed_files(sources, old_files, ctx.snapshot_files())
    if not (added or removed or modified):
        return None
    files = sorted(added + removed + modified)
    parts = [f"{len(x)} {w}" for x, w in ((modified, "modified"), (added, "added"), (removed, "removed")) if x]
    if set(files) <= {_source_path(s) for s in sources}:  # copied files, not folders: name them alone
        how = parts[0].split(" ", 1)[1] if len(files) == 1 else ", ".join(parts)  # "modified", or "2 modified"
        what = f"{', '.join(files)} changed since build #{run} ({how})"
    else:
        shown = ", ".join(files[:5]) + (" ..." if len(files) > 5 else "")
        what = f"files under {' '.join(sources)} changed since build #{run} ({', '.join(parts)}): {shown}"
    return _miss("files-changed", what,
                 files[:MAX_FILES], compared_run=run, added=added[:MAX_FILES], removed=removed[:MAX_FILES],
                 modified=modified[:MAX_FILES])


def _cache_unavailable(ctx: _Ctx, step, prev) -> dict:
    info, model = ctx.info, ctx.model
    ref = info.get("cache_ref")
    why = f"nothing that decides its cache key changed since build #{prev.id}, after which it was in the cache; "
    imports = list(getattr(model, "cache_import", []) or [])
    failed = [o for o in imports if o.state not in ("ok", "pending")]
    for o in failed:
        if o.state == "not-found":
            return _miss("cache-unavailable", why + f"the registry cache {o.ref} was empty (not found) and the builder's "
                         "local cache no longer had it", compared_run=prev.id, reason="ref-empty")
    if failed:
        o = failed[0]
        return _miss("cache-unavailable", why + f"importing the registry cache {o.ref} failed ({o.state}: {o.detail}) "
                     "so the build ran cold", compared_run=prev.id, reason="import-failed")
    if not ref:
        hint = (f" (build #{prev.id} used the registry cache {prev.cache_ref}: pass --cache-ref {prev.cache_ref})"
                if prev.cache_ref and not prev.no_import else "")
        return _miss("cache-unavailable", why + "no registry cache is configured and the builder's local cache no longer "
                     "had it (pruned or garbage-collected)" + hint, compared_run=prev.id, reason="evicted")
    if info.get("no_import"):
        return _miss("cache-unavailable", why + f"the build did not import {ref} (--no-import) and the builder's local "
                     "cache no longer had it (pruned or garbage-collected)", compared_run=prev.id, reason="not-imported")
    writer = ctx.history.last_export_to(ref, ctx.run_id) if hasattr(ctx.history, "last_export_to") else None
    if writer is not None:
        exp = writer.cache_export or []
        if any(e.get("state") not in ("ok", None) for e in exp):
            st = next(e for e in exp if e.get("state") not in ("ok", None))
            return _miss("cache-unavailable", why + f"the last export to {ref} (build #{writer.id}) did not succeed "
                         f"({st.get('state')}: {st.get('detail')})", compared_run=prev.id, reason="export-failed",
                         writer_run=writer.id)
        if (writer.mode or "min") == "min":
            return _miss("cache-unavailable", why + f"{ref} was last exported with mode=min (build #{writer.id}), which keeps "
                         "only the final result's layers, not this intermediate step; export with mode=max",
                         compared_run=prev.id, reason="mode-min", writer_run=writer.id)
        ws = writer.step(step.name)
        if writer.project != ctx.project or ws is None:
            return _miss("cache-unavailable", why + f"{ref} was overwritten by build #{writer.id}"
                         + (f" of another project ({writer.project})" if writer.project != ctx.project else " which had no such step"),
                         compared_run=prev.id, reason="ref-overwritten", writer_run=writer.id)
    return _miss("cache-unavailable", why + f"the cache import from {ref} succeeded, yet the step was not in it: evicted "
                 "(garbage-collected from the builder or the registry) or written by a build this history did not see",
                 compared_run=prev.id, reason="evicted")


# ------------------------------------------------------------------ helpers

def _parse(text):
    if not text:
        return None
    try:
        return dockerfile_mod.parse(text)
    except Exception:
        return None


def _text(name: str) -> str:
    parsed = dockerfile_mod.parse_step_name(name or "")
    return parsed[3] if parsed else (name or "")


def _diff(old: list[str], new: list[str], run: int) -> str:
    """A unified diff from build #run to this build."""
    return "\n".join(difflib.unified_diff(old, new, f"build #{run}", "this build", lineterm=""))


def _from_ref(text: str) -> str:
    return text[5:] if text.startswith("FROM ") else text


def _before(df, spec) -> list[str]:
    """The step-making instructions before this one, in its stage and the stages it builds on."""
    if df is None or spec is None:
        return []
    out = []
    for s in reversed(df.ancestry(spec.stage)):
        if s.base_stage is None:
            out.append(f"FROM {s.base}")
        for ins in s.instructions:
            if s is spec.stage and spec.instruction is not None and ins.line >= spec.instruction.line:
                break
            if s is spec.stage and spec.instruction is None:
                break
            if ins.index is not None:
                out.append(ins.code)
    return out


def _env_lines(df, spec) -> list[str]:
    if df is None or spec is None or spec.instruction is None:
        return []
    out = []
    for s in reversed(df.ancestry(spec.stage)):
        for ins in s.instructions:
            if s is spec.stage and ins.line >= spec.instruction.line:
                break
            if ins.cmd == "ENV":
                out.append(ins.code)
    return out


def _arg_values(df, spec, build_args: dict) -> dict[str, str | None]:
    env = df.env(spec.stage, spec.instruction.line, build_args)
    return {k: env.get(k) for k in df.args_in_effect(spec.stage, spec.instruction.line)}


def _changed_args(df, spec, build_args, prev_df, prev_spec, prev_build_args) -> list[tuple[str, str | None, str | None]]:
    new = _arg_values(df, spec, build_args)
    old = _arg_values(prev_df, prev_spec, prev_build_args)
    return [(k, old.get(k), v) for k, v in new.items() if k in old and old.get(k) != v]


def _expand_src(src: str, env: dict) -> str:
    if "$" not in src:
        return src
    try:
        return dockerfile_mod.expand(src, env, raw=False)
    except ValueError:
        return src


def _source_path(src: str) -> str:
    """A COPY source as a path relative to the context ("." for the whole context)."""
    return posixpath.normpath(src.lstrip("/")) if src.strip("/") not in ("", ".") else "."


def _source_matches(src: str, path: str) -> bool:
    """Does a COPY source (relative to the context) cover this file path?"""
    src = _source_path(src)
    if src == ".":
        return True
    if any(c in src for c in "*?["):
        parts, pparts = src.split("/"), path.split("/")
        if len(pparts) < len(parts):
            return False
        return all(fnmatch.fnmatchcase(pp, sp) for pp, sp in zip(pparts, parts))
    return path == src or path.startswith(src + "/")


def _changed_files(sources: list[str], old: dict, new: dict) -> tuple[list[str], list[str], list[str]]:
    def pick(files: dict) -> dict:
        return {p: v for p, v in files.items() if any(_source_matches(s, p) for s in sources)}
    o, n = pick(old), pick(new)
    added = sorted(set(n) - set(o))
    removed = sorted(set(o) - set(n))
    modified = sorted(p for p in set(o) & set(n)
                      if o[p].get("sha256") != n[p].get("sha256") or o[p].get("mode") != n[p].get("mode"))
    return added, removed, modified


def _confirm_with_cache_debug(ctx: _Ctx, executed, read: tuple[list[dict], list[dict]] | None = None) -> None:
    try:
        from . import cachedebug
    except ImportError:
        return
    try:
        cachedebug.confirm(ctx, executed, *(read or ()))
    except Exception as exc:  # evidence is a bonus: never break the explanation
        for s in executed:
            if s.miss and s.miss.get("kind") not in ("parent-missed", "no-cache"):
                s.miss.setdefault("cache_debug", {"confirmed": False, "note": f"cache debug database not read: {exc}"})
