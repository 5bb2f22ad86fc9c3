"""`railpack-tui serve`: the same dashboard in a browser (textual-serve). Checked once in a real
headless Chromium: the page connects, the app's first screen arrives (the header with the project
and its cache ref, the footer's keys) and is painted; the screenshot is kept as a test artifact
(scripts/screenshots refreshes screenshots/serve-browser.png the same way). Plus the command's
own refusals (a busy port, a bad port) and the per-session command it serves."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import sys
import zlib
from pathlib import Path

import pytest

from railpack_tui.core import cli
from railpack_tui.core.commands import serve
from support import browser

REPO = Path(__file__).resolve().parent.parent


def _require_chromium() -> None:
    if browser.chromium() is None:
        if os.environ.get("CI", "").lower() == "true" or os.environ.get("RAILPACK_TUI_REQUIRE_SANDBOX"):
            pytest.fail("chromium is missing: apt-get install -y chromium")
        pytest.skip("chromium is missing (apt-get install -y chromium)")


def _png_colours(png: bytes) -> set[tuple[int, int, int]]:
    """The distinct RGB colours of an 8-bit RGB/RGBA PNG (enough to tell a painted app from a splash)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(png):
        length = int.from_bytes(png[pos:pos + 4], "big")
        kind, body = png[pos + 4:pos + 8], png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big")
            assert body[8] == 8 and body[9] in (2, 6), "expected an 8-bit RGB(A) PNG"
            channels = 3 if body[9] == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride, colours, prev = zlib.decompress(idat), width * channels, set(), bytearray(width * channels)
    for y in range(height):
        ftype, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = prev[i], prev[i - channels] if i >= channels else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        if y % 4 == 0:
            colours.update(tuple(line[x:x + 3]) for x in range(0, stride, channels * 4))
        prev = line
    return colours


@pytest.mark.slow
def test_serve_shows_the_dashboard_in_headless_chromium(tmp_path):
    _require_chromium()
    project = tmp_path / "cache-demo"
    shutil.copytree(REPO / "examples" / "cache-demo", project)
    env = dict(os.environ)
    # a builder address of its own: the served dashboard must not start a sandbox for this test
    env["BUILDKIT_HOST"] = "unix:///run/railpack-tui-test/buildkitd.sock"
    port = browser.free_port()
    proc = browser.start_serve(port, project, env, tmp_path / "serve.log")
    try:
        browser.wait_http(f"http://127.0.0.1:{port}/")
        shot = tmp_path / "serve-browser.png"
        text = browser.capture(f"http://127.0.0.1:{port}/", shot, wait_for="palette")
    finally:
        browser.stop(proc)
    log = (tmp_path / "serve.log").read_text(errors="replace")
    assert "GET /ws" in log, log[-2000:]
    assert "railpack-tui" in text and "cache-demo" in text, text[-2000:]
    assert "palette" in text  # the footer: the app drew its whole first screen
    colours = _png_colours(shot.read_bytes())
    assert len(colours) > 8, "the page is (nearly) blank"
    assert (0x0E, 0x10, 0x16) in colours  # railpack-dark's background: the dashboard is painted, not the splash


def test_serve_refuses_a_busy_port(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        code = cli.main(["serve", "--port", str(port)])
    assert code == 3
    assert f"port {port} on 127.0.0.1 is already in use" in capsys.readouterr().err


def test_serve_refuses_a_bad_port(capsys):
    assert cli.main(["serve", "--port", "70000"]) == 2
    assert "out of range" in capsys.readouterr().err


def test_each_browser_session_runs_the_dashboard_with_the_given_project(tmp_path):
    cmd = shlex.split(serve.dashboard_command(str(tmp_path / "my app"), "railpack-light"))
    assert cmd == [sys.executable, "-m", "railpack_tui.core", "--project", str(tmp_path / "my app"),
                   "--theme", "railpack-light"]
    assert serve.public_url("127.0.0.1", 8000) == "http://127.0.0.1:8000"
    assert serve.public_url("::1", 8000) == "http://[::1]:8000"
