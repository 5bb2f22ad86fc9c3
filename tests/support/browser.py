"""Open `railpack-tui serve` in a real headless Chromium (Debian's `chromium`), driven over the
DevTools protocol: wait until the terminal on the page has received the app's first screen,
take a PNG screenshot, and return the text the app sent (collected from the page's websocket),
so a test can check that the page shows the dashboard and not the textual-serve splash."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

# collects what the app writes to the page's terminal (binary websocket frames, decoded)
_TAP = """
(() => {
  window.__rtText = "";
  const Orig = window.WebSocket;
  window.WebSocket = function(url, protocols) {
    const ws = protocols === undefined ? new Orig(url) : new Orig(url, protocols);
    ws.addEventListener("message", (e) => {
      if (typeof e.data !== "string") {
        window.__rtText += new TextDecoder().decode(new Uint8Array(e.data));
      }
    });
    return ws;
  };
  window.WebSocket.prototype = Orig.prototype;
})();
"""


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    from railpack_tui.core.netutil import free_port as fp

    return fp()


def wait_http(url: str, timeout: float = 20.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


async def capture_async(url: str, out: Path, size: tuple[int, int] = (1280, 800), wait_for: str = "railpack-tui",
                        timeout: float = 40.0) -> str:
    """`capture` for a caller already inside an event loop."""
    import aiohttp

    port = free_port()
    profile = tempfile.mkdtemp(prefix="rt-chromium-")
    argv = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
            "--disable-dev-shm-usage", f"--user-data-dir={profile}", f"--remote-debugging-port={port}",
            "--remote-debugging-address=127.0.0.1", f"--window-size={size[0]},{size[1]}", "about:blank"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        async with aiohttp.ClientSession() as http:
            page = None
            for _ in range(200):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/json/list") as r:
                        pages = [p for p in await r.json() if p.get("type") == "page"]
                    if pages:
                        page = pages[0]
                        break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            if page is None:
                raise RuntimeError("chromium's DevTools endpoint never answered")
            async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                ids = iter(range(1, 1_000_000))

                async def call(method: str, **params):
                    my_id = next(ids)
                    await ws.send_str(json.dumps({"id": my_id, "method": method, "params": params}))
                    async for msg in ws:
                        data = json.loads(msg.data)
                        if data.get("id") == my_id:
                            if "error" in data:
                                raise RuntimeError(f"{method}: {data['error']}")
                            return data.get("result", {})
                    raise RuntimeError("the DevTools connection closed")

                async def evaluate(expr: str):
                    res = await call("Runtime.evaluate", expression=expr, returnByValue=True)
                    return res.get("result", {}).get("value")

                await call("Page.enable")
                await call("Page.addScriptToEvaluateOnNewDocument", source=_TAP)
                await call("Page.navigate", url=url)
                deadline = time.monotonic() + timeout
                text = ""
                while time.monotonic() < deadline:
                    text = await evaluate("window.__rtText || ''") or ""
                    first_byte = await evaluate("document.body && document.body.classList.contains('-first-byte')")
                    if first_byte and wait_for in text:
                        break
                    await asyncio.sleep(0.25)
                await asyncio.sleep(1.5)  # let the terminal paint the rest of the first screen
                text = await evaluate("window.__rtText || ''") or text
                shot = await call("Page.captureScreenshot", format="png")
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(base64.b64decode(shot["data"]))
                return text
    finally:
        stop(proc)
        shutil.rmtree(profile, ignore_errors=True)


def capture(url: str, out: Path, *, size: tuple[int, int] = (1280, 800), wait_for: str = "railpack-tui",
            timeout: float = 40.0) -> str:
    """Screenshot `url` into `out` once the app's screen has arrived; returns the app's output text."""
    return asyncio.run(capture_async(url, out, size, wait_for, timeout))


def start_serve(port: int, project: Path, env: dict, log: Path) -> subprocess.Popen:
    """`railpack-tui --project P serve --port N` in its own process group."""
    import sys

    fh = open(log, "wb")
    return subprocess.Popen([sys.executable, "-m", "railpack_tui.core", "--project", str(project), "serve",
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    """End a process started in its own group (chromium and its helpers, serve and its sessions)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
