"""`railpack-llb`: a 40-line Go program that links railpack's own plan -> LLB conversion
(`buildkit.ConvertPlanToLLB`, the code `railpack frontend` runs inside BuildKit) and writes the LLB
definition to stdout, so `buildctl build` can solve it *with* `--import-cache`.

Why: railpack's gateway frontend calls `c.Solve(SolveRequest{Definition})` without the
client's `CacheImports` (v0.23.0, and still so upstream), so on the frontend path BuildKit exports
registry cache but never imports it. Solving the same LLB from the client applies the imports.

Where it comes from: RAILPACK_TUI_RAILPACK_LLB, else `railpack-llb` on PATH, else built once with
`go build` against the railpack module in the Go module cache (offline: GOPROXY=off; the
railpack install put every dependency there) into the state directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .. import paths, tools
from ..errors import EnvironmentProblem

MODULE = "github.com/railwayapp/railpack"
BUILD_TIMEOUT_S = 900

MAIN_GO = r'''// railpack-llb: converts a railpack plan to BuildKit LLB on stdout, for
// `buildctl build --local context=DIR --import-cache ... < def.pb` (built by railpack-tui).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/moby/buildkit/client/llb"
	"github.com/railwayapp/railpack/buildkit"
	"github.com/railwayapp/railpack/core/plan"
)

func fail(code int, err error) {
	fmt.Fprintln(os.Stderr, "railpack-llb:", err)
	os.Exit(code)
}

func main() {
	if len(os.Args) != 2 {
		fail(2, fmt.Errorf("usage: railpack-llb PLAN.json > def.pb"))
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail(2, err)
	}
	p := plan.NewBuildPlan()
	if err := json.Unmarshal(data, p); err != nil {
		fail(2, fmt.Errorf("bad plan: %w", err))
	}
	platform, err := buildkit.ParsePlatformWithDefaults(os.Getenv("RAILPACK_PLATFORM"))
	if err != nil {
		fail(2, err)
	}
	st, _, err := buildkit.ConvertPlanToLLB(p, buildkit.ConvertPlanOptions{BuildPlatform: platform})
	if err != nil {
		fail(1, err)
	}
	def, err := st.Marshal(context.Background(), llb.Platform(platform))
	if err != nil {
		fail(1, err)
	}
	if err := llb.WriteTo(def, os.Stdout); err != nil {
		fail(1, err)
	}
}
'''


def _module_dir(version: str) -> Path | None:
    go = tools.find("go")
    if go is None:
        return None
    try:
        cache = subprocess.run([go, "env", "GOMODCACHE"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    d = Path(cache) / "github.com" / "railwayapp" / f"railpack@{version}"
    return d if (d / "go.mod").is_file() else None


def find(version: str) -> str | None:
    """An existing helper (env, PATH, or one we built earlier for this railpack version)."""
    env = os.environ.get("RAILPACK_TUI_RAILPACK_LLB")
    if env and Path(env).is_file():
        return env
    on_path = tools.find("railpack-llb")
    if on_path:
        return on_path
    built = paths.state_dir() / "bin" / f"railpack-llb-{version}"
    return str(built) if built.is_file() else None


def ensure(version: str, log=lambda m: None) -> str:
    """The helper's path, building it (once) when needed. EnvironmentProblem when it cannot be built."""
    found = find(version)
    if found:
        return found
    go = tools.find("go")
    mod = _module_dir(version)
    if go is None or mod is None:
        raise EnvironmentProblem(
            f"the railpack-llb helper is missing and cannot be built here (needs `go` and {MODULE}@{version} in the Go module cache).",
            fix="install Go and run `go install github.com/railwayapp/railpack/cmd/cli@" + version + "` once, or set RAILPACK_TUI_RAILPACK_LLB",
            kind="missing-tool")
    out = paths.state_dir() / "bin" / f"railpack-llb-{version}"
    out.parent.mkdir(parents=True, exist_ok=True)
    log(f"railpack: building the railpack-llb helper against {MODULE}@{version} (once)")
    with tempfile.TemporaryDirectory(prefix="railpack-llb-") as d:
        src = Path(d)
        gomod = (mod / "go.mod").read_text().splitlines()
        gomod = [("module railpack-tui/railpack-llb" if ln.startswith("module ") else ln) for ln in gomod]
        (src / "go.mod").write_text("\n".join(gomod) + f"\n\nrequire {MODULE} {version}\n")
        shutil.copy2(mod / "go.sum", src / "go.sum")
        (src / "main.go").write_text(MAIN_GO)
        tmp_out = src / "railpack-llb"
        last = ""
        for proxy in ("off", os.environ.get("GOPROXY") or "https://proxy.golang.org,direct"):
            env = dict(os.environ, GOFLAGS="-mod=mod", GOPROXY=proxy, GOSUMDB="off", CGO_ENABLED="0")
            try:
                r = subprocess.run([go, "build", "-o", str(tmp_out), "."], cwd=src, env=env, capture_output=True,
                                   text=True, timeout=BUILD_TIMEOUT_S, stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                last = f"go build took longer than {BUILD_TIMEOUT_S} s"
                continue
            if r.returncode == 0:
                shutil.move(str(tmp_out), out)
                return str(out)
            last = (r.stderr.strip().splitlines() or ["go build failed"])[-1]
    raise EnvironmentProblem(f"building the railpack-llb helper failed: {last[:300]}.",
                             fix="see docs/ENGINES.md (railpack engine), or set RAILPACK_TUI_RAILPACK_LLB", kind="missing-tool")


def write_definition(helper: str, plan: Path, out: Path) -> Path:
    with open(out, "wb") as fh:
        r = subprocess.run([helper, str(plan)], stdout=fh, stderr=subprocess.PIPE, text=False, timeout=120,
                           stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        msg = r.stderr.decode(errors="replace").strip().splitlines()
        from ..errors import CheckFailed

        raise CheckFailed(f"railpack could not convert the plan: {(msg[-1] if msg else 'unknown error')[:300]}.",
                          fix="check railpack-plan.json against `railpack schema`", kind="railpack-plan")
    return out
