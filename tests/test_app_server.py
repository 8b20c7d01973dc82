"""``recip app``'s server: same-origin websockets only, installed assets only, clean stops."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import urllib.error
import urllib.request

import pytest

pytest.importorskip("solara")

from sim.paths import viz_dir

sys.path.insert(0, str(viz_dir()))
import harness
import server

websockets = pytest.importorskip("websockets")


# --- the guard, in process ------------------------------------------------------------------------


async def _inner_app(scope, receive, send):
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"inner"})


def _call(guard, scope) -> list[dict]:
    sent = []

    async def receive():
        return {"type": "websocket.connect"} if scope["type"] == "websocket" else {"type": "http.request"}

    async def send(message):
        sent.append(message)

    asyncio.run(guard(scope, receive, send))
    return sent


def _ws(origin: str | None, host: str = "127.0.0.1:8765") -> dict:
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return {"type": "websocket", "path": "/jupyter/api/kernels/x/channels", "headers": headers}


def _http(path: str, host: str = "127.0.0.1:8765") -> dict:
    return {"type": "http", "method": "GET", "path": path, "headers": [(b"host", host.encode())]}


@pytest.fixture
def guard():
    return server.Guard(_inner_app, loopback_only=True, asset_roots=[server.ASSETS])


@pytest.mark.parametrize(("origin", "host", "accepted"), [
    ("http://127.0.0.1:8765", "127.0.0.1:8765", True),
    ("http://localhost:8765", "localhost:8765", True),
    ("http://evil.example", "127.0.0.1:8765", False),       # another site, through the browser
    ("http://127.0.0.1:9999", "127.0.0.1:8765", False),     # another local port
    ("null", "127.0.0.1:8765", False),                       # a sandboxed frame or a file
    (None, "127.0.0.1:8765", False),                         # no Origin at all
    ("http://evil.example:8765", "evil.example:8765", False),  # DNS rebinding onto loopback
])
def test_websocket_origin(guard, origin, host, accepted):
    sent = _call(guard, _ws(origin, host))
    assert sent[0]["type"] == ("websocket.accept" if accepted else "websocket.close")


def test_a_public_server_checks_origin_against_host():
    guard = server.Guard(_inner_app, loopback_only=False, asset_roots=[])
    assert _call(guard, _ws("http://class.example:8765", "class.example:8765"))[0]["type"] == \
        "websocket.accept"
    assert _call(guard, _ws("http://evil.example", "class.example:8765"))[0]["type"] == \
        "websocket.close"


def test_assets_only_from_installed_files(guard):
    katex = _call(guard, _http("/_solara/cdn/katex@0.16.9/dist/katex.min.js"))
    assert katex[0]["status"] == 200 and len(katex[1]["body"]) > 100_000
    assert _call(guard, _http("/_solara/cdn/katex@0.16.9/dist/nothing.js"))[0]["status"] == 404
    escape = _call(guard, _http("/_solara/cdn/katex@0.16.9/../../app.py"))
    assert escape[0]["status"] == 404
    assert _call(guard, _http("/", host="evil.example:8765"))[0]["status"] == 421
    assert _call(guard, _http("/"))[1]["body"] == b"inner"


# --- the real server ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_server():
    with harness.running_app() as running:
        yield running


def _status(url: str, timeout: float = 5) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_server_serves_katex_and_never_fetches(app_server):
    base = app_server.url + "_solara/cdn/"
    assert _status(base + "katex@0.16.9/dist/contrib/auto-render.min.js") == 200
    assert _status(base + "vega@5.21.0/build/vega.min.js") == 200  # from solara-assets
    start = time.monotonic()
    assert _status(base + "left-pad@1.3.0/index.js") == 404
    assert time.monotonic() - start < 2  # a 404 at once, not a fetch that hangs


def test_server_refuses_a_cross_origin_websocket(app_server):
    ws_url = app_server.url.replace("http", "ws") + "jupyter/api/kernels/k1/channels?session_id=s1"
    same = app_server.url.rstrip("/")

    async def connect(origin):
        async with websockets.connect(ws_url, origin=origin, open_timeout=10):
            return True

    with pytest.raises(websockets.InvalidStatus) as refused:
        asyncio.run(connect("http://evil.example"))
    assert refused.value.response.status_code == 403
    assert asyncio.run(connect(same))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_app_stops_cleanly_on_a_signal(sig):
    app = harness.AppProcess("127.0.0.1", harness.free_port())
    try:
        app.wait_ready()
        app.proc.send_signal(sig)
        code = app.proc.wait(timeout=harness.STOP_SECONDS)
    finally:
        app.stop()
    assert code == 0, app.output()
    with pytest.raises(ProcessLookupError):  # nothing it started is left running
        os.killpg(app.proc.pid, 0)


def test_a_non_loopback_host_warns_that_there_is_no_authentication(app_server):
    app = harness.AppProcess("0.0.0.0", harness.free_port())
    try:
        app.wait_ready()
    finally:
        app.stop()
    assert "no authentication" in app.output()
    assert "no authentication" not in app_server.output()  # the loopback default: no warning
