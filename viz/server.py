"""Serve the recip app: solara's ASGI app behind the guards a classroom server needs.

``recip app`` calls :func:`serve` in its own process (no child server to orphan). Around
solara's Starlette app it adds:

- an **Origin check** on every websocket (a page from another site cannot drive the app through
  the visitor's browser) and, on a loopback server, a **Host check** (a DNS-rebinding page cannot
  pose as 127.0.0.1);
- an **offline asset route**: ``/_solara/cdn/...`` is served only from installed files (the
  ``solara-assets`` package and ``viz/assets``, which holds KaTeX); a missing file is a 404 at
  once, never a fetch from the internet (solara's own route fetches from a CDN, without timeout);
- **no traceback in the browser**: an exception in an event handler is logged on the server and
  the browser gets one line;
- a **clean stop** on SIGINT and SIGTERM: uvicorn's handlers, a bounded wait for open
  connections, then solara closes every session (which stops their runs).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import mimetypes
import os
import re
import sys
import warnings
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
APP_FILE = HERE / "app.py"
ASSETS = HERE / "assets"
CDN_PREFIX = "/_solara/cdn/"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
GRACEFUL_SHUTDOWN_SECONDS = 3
BROWSER_ERROR = "The app hit an internal error; the details are in the server's log."

log = logging.getLogger("recip.app")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) only listens on this machine.

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _header(scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return ""


def _hostname(netloc: str) -> str:
    return urlsplit(f"//{netloc}").hostname or ""


class Guard:
    """ASGI middleware: Origin and Host checks, offline assets (see the module docstring)."""

    def __init__(self, app, *, loopback_only: bool, asset_roots: list[Path]):
        self.app = app
        self.loopback_only = loopback_only
        self.asset_roots = [root.resolve() for root in asset_roots if root.is_dir()]

    async def __call__(self, scope, receive, send):
        kind = scope["type"]
        if kind == "websocket" and not self.websocket_allowed(scope):
            log.warning("refused a websocket from origin %r (host %r)", _header(scope, b"origin"),
                        _header(scope, b"host"))
            await receive()  # the websocket.connect message, then refuse: HTTP 403 to the client
            await send({"type": "websocket.close", "code": 1008})
            return
        if kind == "http" and not self.host_allowed(scope):
            await _plain(send, 421, "Misdirected request: this server answers to its loopback name only.")
            return
        if kind == "http" and scope["path"].startswith(CDN_PREFIX):
            await self.serve_asset(scope, send)
            return
        await self.app(scope, receive, send)

    def host_allowed(self, scope) -> bool:
        """On a loopback server the Host header must name loopback (DNS rebinding)."""
        return not self.loopback_only or is_loopback(_hostname(_header(scope, b"host")))

    def websocket_allowed(self, scope) -> bool:
        """Same origin only: the Origin header names the host the browser connected to."""
        origin, host = _header(scope, b"origin"), _header(scope, b"host")
        if not origin or not host or not self.host_allowed(scope):
            return False
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()

    def find_asset(self, path: str) -> Path | None:
        """The installed file for a CDN path; ``name@5/...`` (a version range, as solara's own
        components ask for vega) is the newest installed ``name@5.x.y``."""
        package, _, rest = path[len(CDN_PREFIX):].partition("/")
        for root in self.asset_roots:
            for folder in [package, *self.versions_in_range(root, package)]:
                candidate = (root / folder / rest).resolve()
                if candidate.is_relative_to(root) and candidate.is_file():
                    return candidate
        return None

    @staticmethod
    def versions_in_range(root: Path, package: str) -> list[str]:
        name, at, wanted = package.rpartition("@")
        if not at or not re.fullmatch(r"@?[\w.-]+", name) or not re.fullmatch(r"\d+(\.\d+)?", wanted):
            return []
        found = [p.name for p in root.glob(f"{name}@{wanted}.*") if p.is_dir()]
        return sorted(found, key=lambda f: [int(x) for x in f.rpartition("@")[2].split(".")
                                            if x.isdigit()], reverse=True)

    async def serve_asset(self, scope, send) -> None:
        found = self.find_asset(scope["path"])
        if found is None:
            await _plain(send, 404, "Not an installed asset (this server never fetches from the internet).")
            return
        media = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
        body = b"" if scope["method"] == "HEAD" else found.read_bytes()
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", media.encode()), (b"content-length", str(found.stat().st_size).encode()),
            (b"cache-control", b"public, max-age=86400")]})
        await send({"type": "http.response.body", "body": body})


async def _plain(send, status: int, text: str) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _configure_solara(host: str, port: int) -> None:
    """What ``solara run --production`` sets, before solara's server modules are imported."""
    os.environ["SOLARA_APP"] = str(APP_FILE)
    os.environ["SERVER_NAME"] = host
    os.environ["SERVER_PORT"] = str(port)
    os.environ["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "False"  # no calls home
    os.environ.setdefault("SOLARA_THEME_SHOW_BANNER", "False")  # no badge over the guide
    # reacton's fast renderer (opt-in, REACTON_FAST=0 turns it off): a render pass skips the parts
    # of the page whose state did not change instead of walking and comparing all its ~210
    # elements, which halves the server's work on a Step (experiments/bench_app.py)
    os.environ.setdefault("REACTON_FAST", "1")
    from solara.server import settings

    settings.main.mode = "production"
    settings.telemetry.mixpanel_enable = False
    settings.theme.show_banner = False
    settings.theme.loader = "plain"  # the "solara" loader draws a badge over the page's corner


def _hide_tracebacks() -> None:
    """Log an event handler's exception on the server; the browser gets one line."""
    from solara.server import patch

    def showtraceback(self, *args, **kwargs):
        log.error("uncaught exception in the app", exc_info=sys.exc_info())
        for socket in self.context.control_sockets:
            with contextlib.suppress(Exception):  # a closed socket: nothing to tell
                socket.send_json({"type": "exception", "traceback": BROWSER_ERROR})

    for cls in vars(patch).values():
        if isinstance(cls, type) and "showtraceback" in vars(cls):
            cls.showtraceback = showtraceback


def asset_roots() -> list[Path]:
    from solara.server import settings

    return [ASSETS, Path(settings.assets.proxy_cache_dir)]


def build_app(host: str, port: int):
    """Solara's ASGI app for viz/app.py, wrapped in :class:`Guard`."""
    _configure_solara(host, port)
    import solara.server.starlette as solara_starlette  # imports solara's patch module in order

    _hide_tracebacks()

    return Guard(solara_starlette.app, loopback_only=is_loopback(host), asset_roots=asset_roots())


def _server_class():
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server; SIGINT and SIGTERM are the normal way to stop the app, so after the
        graceful shutdown it returns (exit code 0) instead of re-raising the signal."""

        def handle_exit(self, sig, frame):
            super().handle_exit(sig, frame)
            self._captured_signals.clear()

    return Server


def serve(host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve the app until SIGINT or SIGTERM; returns once every session is closed."""
    import uvicorn
    from solara.__main__ import LOGGING_CONFIG

    # solara warns on every page load of a plain-http server that its cookie falls back to lax
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")
    app = build_app(host, port)
    config = uvicorn.Config(app, host=host, port=port, log_config=LOGGING_CONFIG,
                            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS)
    _server_class()(config).run()
    log.info("the recip app stopped")
