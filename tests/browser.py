"""Headless Chromium for the tests of the HTML report and the web dashboard (Debian's `chromium`),
and a small PNG reader to tell a rendered page from a blank one. Tests skip where it is absent."""

from __future__ import annotations

import contextlib
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed (Debian: apt-get install chromium)"
)


def chromium(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--hide-scrollbars",
        "--virtual-time-budget=8000",  # the page's fetches and scripts run to completion first
    ]
    return subprocess.run([CHROMIUM, *flags, *args, url], capture_output=True, text=True, timeout=120)


def png_colours(data: bytes) -> tuple[int, int, int]:
    """Width, height and the number of distinct pixels in a sample of rows of an 8-bit RGB(A) PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6)
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    prev = bytearray(stride)
    seen: set[bytes] = set()
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        if y % 7 == 0:
            seen.update(bytes(line[x : x + bpp]) for x in range(0, stride, bpp))
        prev = line
    return width, height, len(seen)


class NavigatedAwayError(Exception):
    """The page navigated while a script ran in it (its context is gone)."""


class Page:
    """A page in headless Chromium driven over the DevTools protocol: `evaluate` runs a script in
    it and returns the value (awaiting a promise), so a test can measure what the browser laid out
    (an element's width, a computed style) and click, not only read the DOM."""

    def __init__(self, tmp_path: Path, width: int = 1280, height: int = 1000) -> None:
        import json
        import time

        from websockets.sync.client import connect

        assert CHROMIUM is not None
        profile = tmp_path / "chromium-cdp"
        self.proc = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                f"--window-size={width},{height}",
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            assert self.proc.poll() is None, "chromium exited"
            assert time.monotonic() < deadline, "chromium gave no DevTools port"
            time.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        self._stack = contextlib.ExitStack()
        url = f"ws://127.0.0.1:{port}{path}"
        self.ws = self._stack.enter_context(connect(url, max_size=None, open_timeout=60))
        self._json = json
        self._id = 0
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.send(
            "Emulation.setDeviceMetricsOverride",
            session=True,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=width < 600,
        )

    def send(self, method: str, session: bool = False, **params: object) -> dict:
        self._id += 1
        message: dict[str, object] = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        self.ws.send(self._json.dumps(message))
        while True:
            reply = self._json.loads(self.ws.recv(timeout=120))
            if reply.get("id") == self._id:
                message = str(reply.get("error", {}).get("message", ""))
                if "navigated" in message or "context was destroyed" in message:
                    raise NavigatedAwayError(message)
                assert "error" not in reply, reply
                return reply.get("result", {})

    def open(self, url: str, ready: str = "document.querySelector('[data-metric]')") -> None:
        """Go to `url` and wait (up to a minute) until `ready` is true in the page."""
        self.send("Page.navigate", session=True, url=url)
        self.wait(ready)

    def wait(self, condition: str, seconds: float = 60) -> None:
        """Until `condition` is true in the page, up to `seconds`; a navigation meanwhile (a click
        that changes the address) ends the script it ran in: the condition is asked again of the
        new page."""
        import time

        deadline = time.monotonic() + seconds
        while True:
            try:
                assert self._wait_once(condition, max(0.0, deadline - time.monotonic())) is True, condition
                return
            except NavigatedAwayError:
                assert time.monotonic() < deadline, f"timed out: {condition}"

    def _wait_once(self, condition: str, seconds: float) -> object:
        script = f"""new Promise((done, fail) => {{
            const until = Date.now() + {seconds * 1000};
            const look = () => {{
                let ok = false;
                try {{ ok = !!({condition}); }} catch (e) {{ ok = false; }}
                if (ok) done(true);
                else if (Date.now() > until) fail(new Error("timed out"));
                else setTimeout(look, 50);
            }};
            look();
        }})"""
        return self.evaluate(script)

    def evaluate(self, expression: str) -> object:
        got = self.send(
            "Runtime.evaluate", session=True, expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in got and "context was destroyed" in str(got["exceptionDetails"]):
            raise NavigatedAwayError(str(got["exceptionDetails"]))
        assert "exceptionDetails" not in got, got["exceptionDetails"]
        return got["result"].get("value")

    def screenshot(self, path: Path) -> None:
        import base64

        shot = self.send("Page.captureScreenshot", session=True, format="png", captureBeyondViewport=False)
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        try:
            self._stack.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
