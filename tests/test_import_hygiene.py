"""core/ never imports Textual; `--version` does not load it either."""

import json
import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_core_imports_no_textual():
    code = ("import pkgutil, importlib, railpack_tui.core as c\n"
            "for m in pkgutil.walk_packages(c.__path__, 'railpack_tui.core.'):\n"
            "    m.name.endswith('__main__') or importlib.import_module(m.name)\n")
    mods = _modules_after(code)
    assert "railpack_tui.core.sandbox" in mods  # the walk really imported core
    leaked = sorted(m for m in mods if m == "textual" or m.startswith("textual.") or m.startswith("railpack_tui.tui"))
    assert leaked == []


def test_version_is_fast_and_textual_free():
    mods = _modules_after("import sys\nsys.argv=['railpack-tui','--version']\nfrom railpack_tui.core import cli\n"
                          "try:\n    cli.main(['--version'])\nexcept SystemExit:\n    pass\n")
    assert not any(m == "textual" or m.startswith("textual.") for m in mods)


def test_version_output():
    out = subprocess.run([sys.executable, "-m", "railpack_tui.core", "--version"], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.startswith("railpack-tui ")
