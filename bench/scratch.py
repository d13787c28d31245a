"""Scratch databases for benchmarks: created fresh for a run on the server named by LINLI_BENCH_ADMIN_DSN."""

from __future__ import annotations

import os

import asyncpg

ADMIN_DSN = os.environ.get("LINLI_BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


async def create_database(name: str) -> str:
    """Create database `name` and return its DSN."""
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return f"{ADMIN_DSN.rsplit('/', 1)[0]}/{name}"


async def drop_database(name: str) -> None:
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
