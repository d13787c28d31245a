"""The command line an operator uses: create a platform admin, migrate (the demo: tests/test_demo.py)."""

from __future__ import annotations

import subprocess
import sys

from linli import db
from tests.conftest import next_phone, process_env


def linli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args], env=process_env(), capture_output=True, text=True, timeout=300
    )


async def test_operator_creates_a_platform_admin_who_can_create_communities(client):
    phone = next_phone()
    result = linli("admin", "create", "--phone", phone, "--password", "admin-pass-1", "--name", "街道管理员")
    assert result.returncode == 0, result.stderr
    assert await db.fetchval("SELECT is_platform_admin FROM users WHERE phone = $1", phone) is True
    token = (await client.post("/api/v1/auth/token", json={"phone": phone, "password": "admin-pass-1"})).json()
    r = await client.post(
        "/api/v1/communities",
        json={"name": "长河社区", "timezone": "Asia/Shanghai"},
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    assert r.status_code == 201


async def test_admin_create_refuses_a_bad_phone():
    result = linli("admin", "create", "--phone", "12345", "--password", "admin-pass-1", "--name", "x")
    assert result.returncode == 2
    assert await db.fetchval("SELECT count(*) FROM users") == 0


async def test_migrate_is_repeatable():
    assert linli("migrate").returncode == 0
    assert linli("migrate").returncode == 0
