"""A slow registry (tests/support/slowproxy.py delaying every chunk in front of the sandbox
registry): while a registry test and a build talk to it, the dashboard still answers keys.
The assertions are about behaviour (the key's screen is shown while the slow work is still
running), not about timings."""

from __future__ import annotations

import pytest

from railpack_tui.core import credentials
from railpack_tui.tui.screens.help import HelpScreen
from railpack_tui.tui.widgets.registries_checks import RegistryChecks
from support.faults import slow_project, until
from support.slowproxy import slow_proxy
from tui_support import make_app

pytestmark = [pytest.mark.sandbox]


@pytest.fixture()
def slow_ref(sandbox, sandbox_credential, unique_ref):
    port = int(sandbox.registry.rsplit(":", 1)[1])
    with slow_proxy(port, delay=0.5) as proxy_port:
        host = f"127.0.0.1:{proxy_port}"
        credentials.remember(credentials.Credential(host, sandbox_credential.username, sandbox_credential.password))
        try:
            yield unique_ref.replace(sandbox.registry, host, 1)
        finally:
            credentials.forget(host, sandbox_credential.username)


async def test_keys_answer_during_a_slow_registry_test(tmp_path, slow_ref, sandbox, example_project):
    app = make_app(tmp_path, project=example_project, builder=sandbox.buildkit_host, cache_ref=slow_ref)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("t")
        await until(pilot, lambda: app.screen.query(RegistryChecks) and app.screen.query_one(RegistryChecks).running,
                    "the registry test starts")
        checks = app.screen.query_one(RegistryChecks)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert checks.running, "the slow registry test should still be running"
        await pilot.press("escape")
        await pilot.press("4")
        await pilot.pause()
        assert type(app.screen).__name__ == "HistoryScreen"
        assert checks.running
        await pilot.press("3")
        await until(pilot, lambda: not checks.running, "the registry test ends", limit=900)
        assert all(c.ok or c.skipped for c in checks.checks.values()), {n: c.detail for n, c in checks.checks.items()}


async def test_keys_answer_during_a_build_through_a_slow_registry(tmp_path, slow_ref, sandbox):
    # not the bundled example: its steps must stay uncached on the session builder for the smoke test
    project, _ = slow_project(tmp_path, seconds=3)
    app = make_app(tmp_path, project=project, builder=sandbox.buildkit_host, cache_ref=slow_ref)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        # the cache import goes through the slow proxy; the export (megabytes of layers at one
        # delayed chunk at a time) would outlast the registry's upload timeout
        app.update_state(no_export=True)
        await pilot.press("b")
        job = app.state.current
        await until(pilot, lambda: job.model is not None and job.model.steps, "the build reports steps")
        await pilot.press("2")
        await pilot.pause()
        assert type(app.screen).__name__ == "ProjectsScreen"
        assert job.running, "the build through the slow registry should still be running"
        await pilot.press("1")
        await pilot.pause()
        assert type(app.screen).__name__ == "BuildScreen"
        await until(pilot, lambda: not job.running, "the build ends", limit=1800)
        assert job.outcome == "success", (job.error, job.model and job.model.error)
        assert [o.state for o in job.model.cache_import] == ["not-found"]
