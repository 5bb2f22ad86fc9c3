"""What the dashboard opens on (core/defaults.py), against the real sandbox."""

from __future__ import annotations

import pytest

from railpack_tui.core import defaults

pytestmark = pytest.mark.sandbox


def test_buildkit_host_pointing_at_the_sandbox_keeps_its_registry_and_cache_ref(sandbox, example_project, monkeypatch):
    """`eval "$(railpack-tui sandbox env)"` (what `sandbox up` tells you to run) sets BUILDKIT_HOST
    to the sandbox's builder: the dashboard then opened with "no cache ref" and no sandbox login."""
    monkeypatch.setenv("BUILDKIT_HOST", sandbox.buildkit_host)
    setup = defaults.resolve(str(example_project))
    assert setup.builder == sandbox.buildkit_host
    assert setup.sandbox is not None and setup.sandbox.registry == sandbox.registry
    assert setup.cache_ref == f"{sandbox.registry}/railpack-tui/cache-demo:cache"
    assert setup.notices == []


def test_buildkit_host_elsewhere_is_not_taken_for_the_sandbox(sandbox, example_project, monkeypatch):
    monkeypatch.setenv("BUILDKIT_HOST", "tcp://127.0.0.1:1")
    setup = defaults.resolve(str(example_project))
    assert setup.builder == "tcp://127.0.0.1:1" and setup.sandbox is None and setup.cache_ref is None
