"""A new user's first command: `linli serve` with no DATABASE_URL/REDIS_URL brings its own servers."""

from __future__ import annotations

import os
import time

import httpx
import psutil

from tests.conftest import next_phone
from tests.harness import ServerProcess, free_port, wait_ready


def test_serve_without_servers_starts_embedded_ones_and_cleans_up(tmp_path, log_dir):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["LINLI_DATA_DIR"] = str(tmp_path / "data")
    port = free_port()
    server = ServerProcess(["serve", "--port", str(port)], env, f"embedded-{port}", log_dir)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, server, timeout=180)
        ready = httpx.get(f"{base}/health/ready").json()
        assert ready["checks"] == {"postgres": "ok", "redis": "ok"}
        assert (tmp_path / "data" / "postgres" / "PG_VERSION").exists()
        assert (tmp_path / "data" / "redis" / "redis.sock").exists()

        # The whole path works: register, sign in, and the in-process worker delivers the welcome.
        phone = next_phone()
        r = httpx.post(f"{base}/api/v1/auth/register", json={"phone": phone, "password": "abcdefgh", "name": "新用户"})
        assert r.status_code == 201
        token = httpx.post(f"{base}/api/v1/auth/token", json={"phone": phone, "password": "abcdefgh"}).json()[
            "access_token"
        ]
        deadline = time.monotonic() + 30
        inbox: dict = {}
        while time.monotonic() < deadline:
            inbox = httpx.get(f"{base}/api/v1/me/notifications", headers={"Authorization": f"Bearer {token}"}).json()
            if inbox["items"]:
                break
            time.sleep(0.2)
        assert [n["kind"] for n in inbox["items"]] == ["welcome"]

        # The newcomer is told where to go, and the address leads to the console, not to a JSON 404.
        deadline = time.monotonic() + 10
        while "is ready" not in server.output() and time.monotonic() < deadline:
            time.sleep(0.2)
        output = server.output()
        assert f"web console  {base}/" in output and f"API docs     {base}/schema/" in output
        home = httpx.get(f"{base}/")
        assert home.status_code == 200 and "text/html" in home.headers["content-type"] and "邻里" in home.text
        # ... and nothing else: no warning (the periodic actors' "returned a value" included), no traceback.
        noise = [line for line in output.splitlines() if "warn" in line.lower() or "Traceback" in line]
        assert noise == []
    finally:
        server.stop()

    # Stopping `serve` stops what it started: no embedded server or worker is left behind.
    time.sleep(1)
    leftovers = [
        p.info["cmdline"]
        for p in psutil.process_iter(["cmdline"])
        if p.info["cmdline"] and str(tmp_path) in " ".join(p.info["cmdline"])
    ]
    assert leftovers == []
