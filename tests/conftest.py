"""Shared fixtures. The test session never touches the user's own config, data or sandbox:
every railpack-tui directory points into a temporary directory, and integration tests get a
sandbox (real buildkitd + real authenticated registry) of their own."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from pathlib import Path

import pytest

_ISOLATED = Path(tempfile.mkdtemp(prefix="rt-tests-"))
for _name in ("CONFIG", "DATA", "STATE"):
    os.environ[f"RAILPACK_TUI_{_name}_DIR"] = str(_ISOLATED / _name.lower())
os.environ.pop("BUILDKIT_HOST", None)

from railpack_tui.core import sandbox as sandbox_mod  # noqa: E402
from railpack_tui.core import tools  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _require_sandbox() -> bool:
    return os.environ.get("RAILPACK_TUI_REQUIRE_SANDBOX", "").lower() in ("1", "true", "yes")


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_ISOLATED, ignore_errors=True)


@pytest.fixture(scope="session")
def sandbox():
    """A running sandbox. Under CI (RAILPACK_TUI_REQUIRE_SANDBOX) a missing tool is a failure."""
    missing = tools.missing(sandbox_mod.REQUIRED_TOOLS)
    problem = None
    if missing:
        problem = f"sandbox tools missing: {', '.join(missing)} (run scripts/install-tools)"
    elif os.geteuid() != 0:
        problem = "the sandbox needs root (buildkitd with the runc worker)"
    if problem:
        if _require_sandbox():
            pytest.fail(problem)
        pytest.skip(problem)
    # a SIGTERM (a CI time limit, `timeout`) becomes an interrupt, so pytest still tears the
    # sandbox down instead of leaving its daemons running
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    reuse = os.environ.get("RAILPACK_TUI_TEST_SANDBOX_DIR")
    d = Path(reuse) if reuse else Path(tempfile.mkdtemp(prefix="rt-sbx-", dir="/tmp"))
    info = sandbox_mod.up(d)
    os.environ["RAILPACK_TUI_SANDBOX_DIR"] = str(d)
    yield info
    if not reuse:
        sandbox_mod.down(d)
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def sandbox_credential(sandbox):
    cred = sandbox_mod.sandbox_credential(sandbox)
    assert cred is not None, "the sandbox stored no credential"
    return cred


@pytest.fixture()
def example_project(tmp_path):
    """A fresh, editable copy of the bundled example, with a busybox of its own (see
    support.busybox)."""
    from railpack_tui.core import example
    from support.busybox import copy_unique_busybox

    project = example.prepare(tmp_path / "cache-demo")
    copy_unique_busybox(project / "busybox")
    return project


@pytest.fixture()
def unique_ref(sandbox, request):
    """A cache ref nobody else in this session uses."""
    import re
    import uuid

    # cut before stripping: a repository path component may not end with "-"
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:40].strip("-") or "t"
    return f"{sandbox.registry}/tests/{name}:{uuid.uuid4().hex[:8]}"
