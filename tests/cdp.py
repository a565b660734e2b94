"""Drive headless Chromium over the DevTools protocol on a pipe, for browser tests.

``--remote-debugging-pipe`` makes Chromium read protocol messages (JSON, each ended
by a NUL byte) on its file descriptor 3 and answer on 4: no port, no websocket
library. ``Page`` opens one tab and lets a test navigate, run JavaScript in the
page (click a button, read the DOM), resize the viewport and take a screenshot.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)
TIMEOUT = 60.0


def _above_nine(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


class BrowserError(AssertionError):
    """Chromium answered with an error, or not in time."""


class Page:
    """One tab of a headless Chromium, driven over the pipe."""

    def __init__(self, chromium: str, profile: Path) -> None:
        to_chromium_read, self._write = os.pipe()
        self._read, from_chromium_write = os.pipe()
        # Chromium's ends move to 10 and up first, so putting them on 3 and 4 in the
        # child never overwrites one with the other.
        to_chromium_read = _above_nine(to_chromium_read)
        from_chromium_write = _above_nine(from_chromium_write)

        def on_3_and_4() -> None:
            os.dup2(to_chromium_read, 3)
            os.dup2(from_chromium_write, 4)

        self.process = subprocess.Popen(
            [chromium, *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={profile}",
             "about:blank"],
            pass_fds=(3, 4),
            preexec_fn=on_3_and_4,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "HOME": str(profile)},
        )  # fmt: skip
        os.close(to_chromium_read)
        os.close(from_chromium_write)
        self._buffer = b""
        self._pending: list[dict[str, Any]] = []  # messages no one waited for yet
        self._next_id = 0
        self.session = ""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        self.call("Page.enable")

    def close(self) -> None:
        with contextlib.suppress(BrowserError, OSError):
            self.call("Browser.close", session=False)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._write)
        os.close(self._read)

    def __enter__(self) -> Page:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- what a test does --------------------------------------------------------

    def goto(self, url: str) -> None:
        self._forget("Page.loadEventFired")
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click_and_wait(self, selector: str) -> None:
        """Click the element (a submit button) and wait for the page it leads to."""
        self._forget("Page.loadEventFired")
        found = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " if (!e) return false; e.click(); return true; })()"
        )
        if not found:
            raise BrowserError(f"nothing on the page matches {selector}")
        self.wait_for("Page.loadEventFired")

    def html(self) -> str:
        return str(self.evaluate("document.documentElement.outerHTML"))

    def screenshot(self, path: Path, width: int, height: int, mobile: bool = False) -> None:
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=mobile,
        )
        self.goto(self.evaluate("location.href"))
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    # ---- the protocol ----------------------------------------------------------------

    def call(self, method: str, session: bool = True, **params: Any) -> Any:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        answer = self._receive(lambda m: m.get("id") == self._next_id)
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    def _forget(self, event: str) -> None:
        self._pending = [m for m in self._pending if m.get("method") != event]

    def wait_for(self, event: str) -> dict[str, Any]:
        return self._receive(lambda m: m.get("method") == event)

    def _receive(self, wanted: Any) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                self._pending.append(json.loads(raw))
            for message in self._pending:
                if wanted(message):
                    self._pending.remove(message)
                    return message
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise BrowserError("Chromium did not answer in time")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise BrowserError("Chromium closed the pipe")
            self._buffer += chunk
