"""The whole real stack, end to end, with bare buildctl: export registry cache (mode=max) to the
authenticated sandbox registry, prune the local cache, build again importing it: every step cached."""

import json
import os
import subprocess

import pytest

from railpack_tui.core import dockerconfig, tools

pytestmark = pytest.mark.sandbox


def _buildctl(sandbox, project, cfg, *extra):
    env = dict(os.environ, BUILDKIT_HOST=sandbox.buildkit_host, DOCKER_CONFIG=str(cfg))
    return subprocess.run([tools.require("buildctl", "for the smoke test"), "build", "--frontend", "dockerfile.v0",
                           "--local", f"context={project}", "--local", f"dockerfile={project}", "--progress=rawjson", *extra],
                          env=env, capture_output=True, text=True, timeout=300)


def _steps(stream: str) -> dict[str, bool]:
    """name -> cached, for the Dockerfile's own steps (a deliberately independent mini-parser)."""
    steps: dict[str, dict] = {}
    for line in stream.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        for v in msg.get("vertexes") or []:
            name = v.get("name", "")
            if not name.startswith("[") or name.startswith(("[internal]", "[auth]")):
                continue
            s = steps.setdefault(v["digest"], {"name": name, "cached": False})
            s["cached"] |= bool(v.get("cached"))
    return {s["name"]: s["cached"] for s in steps.values()}


def _prune(sandbox):
    prune = subprocess.run([tools.find("buildctl"), "--addr", sandbox.buildkit_host, "prune", "--all"],
                           capture_output=True, text=True, timeout=120)
    assert prune.returncode == 0, prune.stderr


def test_registry_cache_round_trip(sandbox, sandbox_credential, example_project, unique_ref):
    cache = f"type=registry,ref={unique_ref}"
    with dockerconfig.temporary([sandbox_credential]) as cfg:
        _prune(sandbox)  # other tests may have built the example on this builder
        cold = _buildctl(sandbox, example_project, cfg, "--import-cache", cache, "--export-cache", cache + ",mode=max")
        assert cold.returncode == 0, cold.stderr[-2000:]
        _prune(sandbox)
        warm = _buildctl(sandbox, example_project, cfg, "--import-cache", cache)
        assert warm.returncode == 0, warm.stderr[-2000:]
    assert not cfg.exists()
    cold_steps, warm_steps = _steps(cold.stderr), _steps(warm.stderr)
    assert len(warm_steps) >= 7
    assert set(cold_steps) == set(warm_steps)
    assert not any(cold_steps.values()), "the first build into an empty ref cannot be cached"
    assert all(warm_steps.values()), {k: v for k, v in warm_steps.items() if not v}
