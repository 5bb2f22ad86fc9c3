"""The cache-warmth demo: why the registry cache matters, on a big screen.

1. prune the builder's local cache;
2. build without importing the registry cache (cold), exporting it to REF (mode=max);
3. prune again;
4. build importing REF (warm), not exporting;
5. compare side by side: total time, per-step times, hit ratio, bytes pulled, time saved.

Pruning empties the builder's whole build cache (`buildctl prune --all`, or `docker buildx prune
--all --force` for a buildx builder): that is the point of the demo, and what `on_phase` says.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from typing import Callable

from . import builders, runner, tools
from .errors import BadInput, EnvironmentProblem


def prune(builder: builders.Builder, timeout: int = 300) -> str:
    """Empty the builder's local build cache; returns BuildKit's own summary line."""
    if builder.addr is not None:
        argv = [tools.require("buildctl", "to prune the builder's cache"), *builder.buildctl_args(), "prune", "--all"]
    else:
        argv = [tools.require("docker", "to prune a buildx builder's cache"), "buildx", "prune", "--all", "--force",
                "--builder", builder.buildx_name or ""]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                           start_new_session=True)
    except subprocess.TimeoutExpired:
        raise EnvironmentProblem(f"pruning the cache of {builder.display} took longer than {timeout} s.",
                                 fix="check the builder (railpack-tui sandbox status) and try again", kind="timeout") from None
    if r.returncode != 0:
        msg = (r.stderr.strip().splitlines() or ["no output"])[-1]
        raise EnvironmentProblem(f"pruning the cache of {builder.display} failed: {msg}.",
                                 fix="check that the builder is reachable (railpack-tui sandbox status)", kind="prune-failed")
    lines = [ln for ln in r.stdout.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "nothing to prune"


@dataclass
class DemoResult:
    project: str
    cache_ref: str
    builder: str
    cold: runner.BuildResult
    warm: runner.BuildResult | None
    pruned: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.cold.ok and self.warm is not None and self.warm.ok

    def side(self, res: runner.BuildResult | None) -> dict | None:
        if res is None:
            return None
        rep = res.report()
        sm = rep.get("summary", {})
        return {"run_id": res.run_id, "status": res.status, "duration_s": round(res.duration_s, 3),
                "steps": sm.get("steps", 0), "cached": sm.get("cached", 0), "executed": sm.get("executed", 0),
                "hit_ratio": sm.get("hit_ratio", 0.0), "pulled_bytes": sm.get("pulled_bytes", 0),
                "cache_import": rep.get("cache_import", []), "cache_export": rep.get("cache_export", []),
                "error": rep.get("error")}

    def steps(self) -> list[dict]:
        """One row per step name, cold and warm side by side (build order of the cold build)."""
        def by_name(res):
            return {s.name: s for s in res.model.steps} if res is not None and res.model is not None else {}
        cold, warm = by_name(self.cold), by_name(self.warm)
        names = list(cold) + [n for n in warm if n not in cold]

        def cell(s):
            return None if s is None else {"state": s.state, "duration_s": s.duration_s, "pulled_bytes": s.pulled_bytes}
        return [{"name": n, "cold": cell(cold.get(n)), "warm": cell(warm.get(n))} for n in names]

    def to_json(self) -> dict:
        cold, warm = self.side(self.cold), self.side(self.warm)
        saved = round(cold["duration_s"] - warm["duration_s"], 3) if warm else None
        speedup = round(cold["duration_s"] / warm["duration_s"], 2) if warm and warm["duration_s"] > 0 else None
        return {"ok": self.ok, "project": self.project, "cache_ref": self.cache_ref, "builder": self.builder,
                "pruned": self.pruned, "cold": cold, "warm": warm, "time_saved_s": saved, "speedup": speedup,
                "steps": self.steps()}


def run_demo(path: str, cache_ref: str, engine: str = "buildkit", builder: str | None = None,
             tls_dir: str | None = None, on_phase: Callable[[str], None] = lambda msg: None,
             on_event: Callable[[runner.RunEvent], None] | None = None) -> DemoResult:
    if not cache_ref:  # "" would run both builds without any registry cache and call that the demo
        raise BadInput("--cache-ref is empty.", kind="invalid-ref",
                       fix="give the registry cache ref the demo exports to and imports from, "
                           "like registry.example.com/team/app-cache:main")
    base = runner.BuildRequest(path=path, cache_ref=cache_ref, engine=engine, builder=builder, mode="max",
                              tls_dir=tls_dir).validate()
    b = builders.resolve(builder, tls=base.tls())  # the prunes reach a TLS builder too
    builders.check(b)  # an address or a buildx builder name: refused here, before any prune
    pruned = []
    on_phase(f"pruning the local cache of {b.display} (cold start)")
    pruned.append(prune(b))
    on_phase(f"cold build: no cache import, exporting the cache to {cache_ref} (mode=max)")
    cold_req = runner.BuildRequest(**{**base.__dict__, "no_import": True, "no_export": False})
    cold = runner.run_build(cold_req, on_event)
    warm = None
    if cold.ok:
        on_phase(f"pruning the local cache of {b.display} again (only the registry cache is left)")
        pruned.append(prune(b))
        on_phase(f"warm build: importing the cache from {cache_ref}")
        warm_req = runner.BuildRequest(**{**base.__dict__, "no_import": False, "no_export": True})
        warm = runner.run_build(warm_req, on_event)
    return DemoResult(project=str(base.project_dir()), cache_ref=cache_ref, builder=b.display, cold=cold, warm=warm,
                      pruned=pruned)
