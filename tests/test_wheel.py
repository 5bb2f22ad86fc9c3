"""The project as users get it from a wheel (not the editable install the other tests use): the
package-dir mapping, the .tcss files, the themes and the bundled example must all be inside it,
and the installed console script must run from a fresh virtual environment."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow

# run inside the fresh venv: the dashboard with every screen visited and every shipped theme on
DASHBOARD_CHECK = r"""
import asyncio, json, sys
from pathlib import Path
import railpack_tui.core, railpack_tui.tui, railpack_tui.themes
from railpack_tui.core import example
from railpack_tui.core.defaults import Setup
from railpack_tui.tui.app import RailpackTUI
from railpack_tui.tui.state import Settings

project = example.prepare(Path(sys.argv[1]) / "cache-demo")
setup = Setup(project=project, builder="unix:///nonexistent/buildkitd.sock", cache_ref=None, notices=[])
app = RailpackTUI(setup, settings=Settings.load(Path(sys.argv[1]) / "settings.json"))
seen = {}

async def main():
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        for key in "2341":
            await pilot.press(key)
            await pilot.pause()
            seen[key] = type(app.screen).__name__
        seen["themes"] = sorted(n for n in app.available_themes if n.startswith("railpack-"))
        seen["css_rules"] = len(app.stylesheet.rules)

asyncio.run(main())
print(json.dumps({"core": railpack_tui.core.__file__, "tui": railpack_tui.tui.__file__,
                  "themes": railpack_tui.themes.__file__, "project_files": sorted(
                      str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()),
                  "seen": seen}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of the files git would commit: the work tree's build/ and *.egg-info (left
    by the editable install) would otherwise put files in the wheel that its settings leave out."""
    src, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)],
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-2000:]
    (built,) = out.glob("railpack_tui-*.whl")
    return built


def test_the_wheel_holds_the_mapped_packages_their_styles_themes_and_the_example(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("railpack_tui/core/cli.py", "railpack_tui/core/engines/buildkit.py",
                     "railpack_tui/core/commands/build.py", "railpack_tui/tui/app.py", "railpack_tui/tui/app.tcss",
                     "railpack_tui/tui/screens/build.py", "railpack_tui/tui/widgets/step_table.py",
                     "railpack_tui/themes/__init__.py", "railpack_tui/examples/cache-demo/Dockerfile",
                     "railpack_tui/examples/cache-demo/.dockerignore"):
        assert required in names, f"{required} is missing from {wheel.name}"
    shipped_tcss = {n.removeprefix("railpack_tui/") for n in names if n.endswith(".tcss")}
    source_tcss = {str(p.relative_to(ROOT)) for p in ROOT.glob("tui/**/*.tcss")}
    assert shipped_tcss == source_tcss
    assert not any(n.startswith(("tests/", "bench/", "scripts/")) for n in names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "railpack-tui = railpack_tui.core.cli:entry" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_the_installed_wheel_runs_from_a_fresh_venv(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py, script = venv / "bin" / "python", venv / "bin" / "railpack-tui"
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["RAILPACK_TUI_DATA_DIR"] = str(tmp_path / "data")

    version = subprocess.run([str(script), "--version"], capture_output=True, text=True, env=env, timeout=60)
    assert version.returncode == 0 and "railpack-tui" in version.stdout, version.stderr

    recorded = ROOT / "tests" / "fixtures" / "tui" / "warm-from-registry.rawjson.jsonl"
    report = subprocess.run([str(script), "report", str(recorded), "--json"], capture_output=True, text=True,
                            env=env, timeout=60)
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["status"] == "success"

    check = subprocess.run([str(py), "-c", DASHBOARD_CHECK, str(tmp_path / "work")], capture_output=True,
                           text=True, env=env, timeout=120, cwd=tmp_path)
    assert check.returncode == 0, check.stderr[-3000:]
    result = json.loads(check.stdout.strip().splitlines()[-1])
    site = str(venv)
    assert all(result[k].startswith(site) for k in ("core", "tui", "themes")), result
    assert {"Dockerfile", ".dockerignore"} <= set(result["project_files"])
    assert result["seen"]["2"] == "ProjectsScreen" and result["seen"]["3"] == "RegistriesScreen"
    assert result["seen"]["4"] == "HistoryScreen" and result["seen"]["1"] == "BuildScreen"
    assert result["seen"]["themes"] == ["railpack-contrast", "railpack-dark", "railpack-light"]
    assert result["seen"]["css_rules"] > 0
