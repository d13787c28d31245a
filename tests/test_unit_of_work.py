"""Services compose inside one transaction that the caller owns, and a failed commit leaks nothing."""

from __future__ import annotations

import pytest

from linli import db


class Boom(Exception):
    pass


async def test_nested_units_commit_or_roll_back_together():
    with pytest.raises(Boom):
        async with db.unit_of_work():
            await db.execute(
                "INSERT INTO schedule_runs (id, name, slot, claimed_at) VALUES (gen_random_uuid(), 'a', '1', now())"
            )
            async with db.unit_of_work():
                await db.execute(
                    "INSERT INTO schedule_runs (id, name, slot, claimed_at) VALUES (gen_random_uuid(), 'b', '1', now())"
                )
            raise Boom
    assert await db.fetchval("SELECT count(*) FROM schedule_runs") == 0

    async with db.unit_of_work():
        await db.execute(
            "INSERT INTO schedule_runs (id, name, slot, claimed_at) VALUES (gen_random_uuid(), 'a', '1', now())"
        )
        async with db.unit_of_work():
            await db.execute(
                "INSERT INTO schedule_runs (id, name, slot, claimed_at) VALUES (gen_random_uuid(), 'b', '1', now())"
            )
    assert await db.fetchval("SELECT count(*) FROM schedule_runs") == 2


async def test_a_failing_commit_returns_its_connection_to_the_pool():
    await db.execute("DROP TABLE IF EXISTS uow_deferred")
    await db.execute("CREATE TABLE uow_deferred (id int, CONSTRAINT one UNIQUE (id) DEFERRABLE INITIALLY DEFERRED)")
    try:
        pool = db.engine().pool
        assert pool is not None
        idle_before = pool.get_idle_size() + (pool.get_max_size() - pool.get_size())
        for _ in range(pool.get_max_size() + 2):
            with pytest.raises(Exception, match="duplicate key"):
                async with db.unit_of_work():
                    await db.execute("INSERT INTO uow_deferred VALUES (1), (1)")  # fails only at COMMIT
        assert db.engine().current_transaction.get() is None
        assert pool.get_idle_size() + (pool.get_max_size() - pool.get_size()) == idle_before
        # And the pool still works.
        assert await db.fetchval("SELECT 1") == 1
    finally:
        await db.execute("DROP TABLE IF EXISTS uow_deferred")


def _free(pool) -> int:
    return int(pool.get_idle_size() + (pool.get_max_size() - pool.get_size()))


async def test_a_request_uses_one_connection_for_the_caller_and_its_units_of_work():
    pool = db.engine().pool
    assert pool is not None
    free_before = _free(pool)
    async with db.request_scope():
        caller_backend = await db.fetchval("SELECT pg_backend_pid()")  # e.g. loading the caller
        with pytest.raises(Boom):
            async with db.unit_of_work():
                assert await db.fetchval("SELECT pg_backend_pid()") == caller_backend
                raise Boom
        async with db.unit_of_work():
            assert await db.fetchval("SELECT pg_backend_pid()") == caller_backend
            # The failed unit above was rolled back; this one is a fresh transaction on the same connection.
            assert await db.fetchval("SELECT count(*) FROM schedule_runs") == 0
        assert _free(pool) == free_before - 1
    assert _free(pool) == free_before  # given back when the request ends


async def test_a_failing_commit_inside_a_request_leaves_its_connection_usable():
    await db.execute("DROP TABLE IF EXISTS uow_deferred")
    await db.execute("CREATE TABLE uow_deferred (id int, CONSTRAINT one UNIQUE (id) DEFERRABLE INITIALLY DEFERRED)")
    try:
        async with db.request_scope():
            with pytest.raises(Exception, match="duplicate key"):
                async with db.unit_of_work():
                    await db.execute("INSERT INTO uow_deferred VALUES (1), (1)")
            assert db.engine().current_transaction.get() is None
            async with db.unit_of_work():
                await db.execute("INSERT INTO uow_deferred VALUES (2)")
        assert await db.fetchval("SELECT array_agg(id) FROM uow_deferred") == [2]
    finally:
        await db.execute("DROP TABLE IF EXISTS uow_deferred")
