"""Services compose inside one transaction that the caller owns, and a failed commit leaks nothing."""

from __future__ import annotations

import asyncio

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
            async with db.unit_of_work():
                await db.execute("INSERT INTO uow_deferred VALUES (2)")
        assert await db.fetchval("SELECT array_agg(id) FROM uow_deferred") == [2]
    finally:
        await db.execute("DROP TABLE IF EXISTS uow_deferred")


async def test_a_unit_of_plain_reads_and_one_last_write_needs_no_transaction_block():
    """The booking's shape: read the context, then one statement that is the whole write. It commits as it ends,
    and a statement after it is refused rather than silently left out of the unit."""
    watcher = await db.engine().get_new_connection()
    try:
        async with db.unit_of_work():
            read = await db.read_row("SELECT count(*) AS n, pg_backend_pid() AS pid FROM schedule_runs")
            assert read is not None
            assert await _server_state(watcher, read["pid"]) == "idle"  # no BEGIN reached the server
            await db.write_last(
                "INSERT INTO schedule_runs (id, name, slot, claimed_at) VALUES (gen_random_uuid(), 'a', '1', now())"
                " RETURNING id"
            )
            # Committed already: another connection sees it before the unit of work ends.
            assert await watcher.fetchval("SELECT count(*) FROM schedule_runs") == 1
            with pytest.raises(RuntimeError, match="already ended"):
                await db.execute("DELETE FROM schedule_runs")
        assert await db.fetchval("SELECT count(*) FROM schedule_runs") == 1
    finally:
        await watcher.close()


async def test_a_last_write_after_other_writes_is_part_of_the_transaction():
    watcher = await db.engine().get_new_connection()
    try:
        with pytest.raises(Boom):
            async with db.unit_of_work():
                await db.execute(
                    "INSERT INTO schedule_runs (id, name, slot, claimed_at) VALUES (gen_random_uuid(), 'a', '1', now())"
                )
                pid = await db.fetchval("SELECT pg_backend_pid()")
                assert await _server_state(watcher, pid) == "idle in transaction"
                assert await db.read_row("SELECT count(*) AS n FROM schedule_runs") == (1,)  # sees its own write
                await db.write_last(
                    "INSERT INTO schedule_runs (id, name, slot, claimed_at)"
                    " VALUES (gen_random_uuid(), 'b', '1', now()) RETURNING id"
                )
                raise Boom
    finally:
        await watcher.close()
    assert await db.fetchval("SELECT count(*) FROM schedule_runs") == 0


async def _server_state(watcher, pid: int) -> str:
    """What PostgreSQL says the backend is doing: 'idle', or 'idle in transaction' inside a BEGIN."""
    return str(await watcher.fetchval("SELECT state FROM pg_stat_activity WHERE pid = $1", pid))


async def test_a_unit_that_runs_no_statement_takes_no_connection():
    pool = db.engine().pool
    assert pool is not None
    free_before = _free(pool)
    async with db.request_scope(), db.unit_of_work():
        assert _free(pool) == free_before
    assert _free(pool) == free_before


async def test_orm_queries_join_the_unit_of_work():
    from linli.tables import ScheduleRun

    with pytest.raises(Boom):
        async with db.unit_of_work():
            await db.execute(
                "INSERT INTO schedule_runs (id, name, slot, claimed_at) VALUES (gen_random_uuid(), 'a', '1', now())"
            )
            assert await ScheduleRun.count() == 1  # the ORM sees the unit's uncommitted row
            raise Boom
    assert await ScheduleRun.count() == 0


async def test_connections_are_handed_out_in_arrival_order():
    """With every connection busy, requests that wait are served first come, first served: a newcomer arriving
    just as a connection frees up does not jump the line (asyncpg's own queue lets it, which once left some
    bookings waiting 5-10 s under load)."""
    pool = db.engine().pool
    assert pool is not None
    size = pool.get_max_size()
    served: list[str] = []
    let_go = [asyncio.Event() for _ in range(size)]
    held = [asyncio.Event() for _ in range(size)]

    async def hold(i: int) -> None:
        async with db.connection():
            held[i].set()
            await let_go[i].wait()

    async def use(name: str) -> None:
        async with db.connection():
            served.append(name)
            await asyncio.sleep(0.01)

    holders = [asyncio.create_task(hold(i)) for i in range(size)]
    for event in held:
        await event.wait()
    waiting = [asyncio.create_task(use(f"early{i}")) for i in range(size)]
    await asyncio.sleep(0.05)
    newcomers = []
    for i in range(size):
        let_go[i].set()
        # Newcomers arrive tick by tick while the connection goes back, one of them in the very moment it does.
        for tick in range(12):
            newcomers.append(asyncio.create_task(use(f"late{i}.{tick}")))
            await asyncio.sleep(0)
        await asyncio.sleep(0.02)
    await asyncio.gather(*holders, *waiting, *newcomers)
    assert served[:size] == [f"early{i}" for i in range(size)]
