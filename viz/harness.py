"""``recip app`` in a child process for the tests and the benchmark, always stopped afterwards.

>>> from harness import running_app                                     # doctest: +SKIP
>>> with running_app() as url:                                          # doctest: +SKIP
...     ...  # drive http://127.0.0.1:PORT/ with Playwright
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

START_SECONDS = 90
STOP_SECONDS = 15
CHROMIUM = "/usr/bin/chromium"
# Headless Chromium that never talks to anything but the page's server.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def recip_command() -> list[str]:
    recip = shutil.which("recip", path=str(Path(sys.executable).parent))
    return [recip] if recip else [sys.executable, "-m", "sim.cli"]


class AppProcess:
    """A started ``recip app``: its URL, its process and its log (stdout and stderr).

    The log is a temporary file while the app runs. :meth:`stop` keeps its text (``output()``
    still answers) and deletes the file, unless the app exited with an error, had to be killed
    or ``keep_log`` asks: then the file stays for a look (its path is ``log_path``)."""

    def __init__(self, host: str, port: int, env: dict[str, str] | None = None,
                 extra_args: list[str] | None = None):
        self.url = f"http://{host}:{port}/"
        self._stopped_output: str | None = None
        log_fd, self.log_path = tempfile.mkstemp(prefix="recip-app-", suffix=".log")
        # own process group: a stop reaches every process the app started
        self.proc = subprocess.Popen([*recip_command(), "app", "--host", host, "--port", str(port),
                                      *(extra_args or [])],
                                     stdout=log_fd, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})}, start_new_session=True)
        os.close(log_fd)

    def output(self) -> str:
        if self._stopped_output is not None:
            return self._stopped_output
        return Path(self.log_path).read_text()

    def wait_ready(self, timeout: float = START_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"recip app exited with {self.proc.returncode}:\n{self.output()}")
            with (contextlib.suppress(OSError),
                  urllib.request.urlopen(self.url + "readyz", timeout=2) as response):
                if response.status == 200:
                    return
            time.sleep(0.3)
        raise RuntimeError(f"recip app did not answer on {self.url} in {timeout:.0f} s:\n{self.output()}")

    def stop(self, sig: int = signal.SIGTERM, keep_log: bool = False) -> int:
        """Send ``sig`` to the app alone (as a service manager would); if it is not gone in
        STOP_SECONDS, kill its whole process group. Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        with contextlib.suppress(ProcessLookupError):  # nothing it started may outlive it
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self._stopped_output is None:
            self._stopped_output = self.output()
            if self.proc.returncode == 0 and not keep_log:  # nothing to look at later
                Path(self.log_path).unlink(missing_ok=True)
        return self.proc.returncode


@contextlib.contextmanager
def running_app(host: str = "127.0.0.1", port: int | None = None,
                env: dict[str, str] | None = None) -> Iterator[AppProcess]:
    app = AppProcess(host, port or free_port(), env)
    try:
        app.wait_ready()
        yield app
    except BaseException as exc:
        # what went wrong may show in the app's log too: keep it, and say where it is
        app.stop(keep_log=True)
        exc.add_note(f"recip app's log: {app.log_path}")
        raise
    app.stop()
