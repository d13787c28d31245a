"""What an operator deploys: the Kubernetes manifests and the compose file in deploy/, checked against the
Kubernetes API schemas and against the code they run (image, commands, settings, health paths), and the
release step they rely on (migrations started by several processes at once)."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import asyncpg

from tests.conftest import _SERVICES, process_env
from tests.harness import ROOT, unique_name


def _migrate(dsn: str, n: int) -> list[subprocess.CompletedProcess[str]]:
    env = process_env() | {"DATABASE_URL": dsn}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "server.cli", "migrate"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


async def test_replicas_and_the_release_job_migrating_at_once_all_succeed():
    # A rolling update starts API replicas (each migrates as it starts) while the release's migration job runs.
    name = unique_name("linli_deploy")
    admin = await asyncpg.connect(_SERVICES.admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        dsn = _SERVICES.dsn_for(name)
        results = await asyncio.to_thread(_migrate, dsn, 3)
        for r in results:
            assert r.returncode == 0, r.stderr[-2000:]
            assert "migrations applied" in r.stdout
        conn = await asyncpg.connect(dsn)
        try:
            applied = await conn.fetchval("SELECT count(*) FROM migration")
            distinct = await conn.fetchval("SELECT count(DISTINCT (app_name, name)) FROM migration")
        finally:
            await conn.close()
        assert applied == distinct > 0  # each migration recorded once
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
