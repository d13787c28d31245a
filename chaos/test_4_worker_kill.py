"""4. The worker SIGKILLed three times in a row, in the middle of a month's settlement and of the outbox relay.

A street's month: 100 partners with 1,000 completed bookings each are settled while residents keep signing up
(every sign-up is an outbox event the relay moves and a welcome notice an actor writes). Each time the
settlement has made progress the worker is killed outright, and a new one is started. After the third kill a
last worker finishes on its own: messages the dead workers had taken go back to their queues once their
heartbeat runs out, unsent rows are still in the outbox, and every actor is idempotent. In the end the ledger is
exact to the fen (`linli reconcile` exits 0), each booking is settled once and each sign-up welcomed once.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from chaos.load import register, sent_undelivered, unsent_events
from chaos.results import Results
from linli import db
from tests.conftest import eventually, process_env
from tests.welfare_api import (
    complete_bookings,
    deposit,
    expected_share,
    fund_balance_sql,
    fund_setup,
    partner,
    settled_lines,
    unbalanced_transactions,
)
from welfare import periods

PARTNERS, BOOKINGS_EACH, RATE_BP, KILLS = 100, 1_000, 650, 3
PRICES = [800 + 7 * (i % 300) for i in range(BOOKINGS_EACH)]
SUBSIDIES = [300 if i % 4 == 0 else 0 for i in range(BOOKINGS_EACH)]
DEPOSIT_FEN = 50_000_000
HEARTBEAT_SECONDS = 10  # how long a killed worker's taken messages wait before going back to the queue
# Not last month: the workers' monthly schedule settles last month on its own and would race this run.
PERIOD = periods.previous(periods.current_period("Asia/Shanghai"), 2)


async def _sign_ups(base_url: str, community_id: str, stop: asyncio.Event, out: list[str]) -> None:
    """Residents signing up, about ten a second, until `stop`: a steady stream of events for the relay."""
    gate = asyncio.Semaphore(4)
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        while not stop.is_set():
            person = await register(http, community_id, gate, len(out))
            out.append(person.id)
            await asyncio.sleep(0.1)


async def _welcomes(user_ids: list[str]) -> dict[str, int]:
    rows = await db.fetch(
        "SELECT user_id, count(*) AS n FROM notifications WHERE kind = 'welcome' AND user_id = ANY($1::uuid[])"
        " GROUP BY user_id",
        [UUID(u) for u in user_ids],
    )
    return {str(r["user_id"]): int(r["n"]) for r in rows}


async def _lines_settled_twice() -> int:
    return int(
        await db.fetchval(
            "SELECT count(*) FROM (SELECT booking_id FROM settlement_lines GROUP BY 1 HAVING count(*) > 1) x"
        )
    )


def _reconcile(community_id: str) -> subprocess.CompletedProcess[str]:
    linli = Path(sys.executable).with_name("linli")
    return subprocess.run(
        [str(linli), "reconcile", "--community", community_id, "--period", PERIOD],
        env=process_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


async def test_worker_killed_three_times_mid_settlement_and_mid_relay_leaves_the_ledger_exact(
    client, live_server, start_worker, results: Results
):
    fund = await fund_setup(client, "压力测试街道")
    assert (await deposit(client, fund, DEPOSIT_FEN)).status_code == 201
    for k in range(PARTNERS):
        p, agreement = await partner(fund.id, fund.admin.id, name=f"合伙人{k}", rate_bp=RATE_BP)
        await complete_bookings(
            fund.id,
            p,
            fund.resident.id,
            prices=PRICES,
            subsidies=SUBSIDIES,
            agreement_id=agreement,
            rate_bp=RATE_BP,
            period=PERIOD,
        )
    total = PARTNERS * BOOKINGS_EACH
    exact_fen = DEPOSIT_FEN + PARTNERS * (expected_share(PRICES, RATE_BP) - sum(SUBSIDIES))
    env = process_env() | {"LINLI_WORKER_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS)}

    stop_sign_ups = asyncio.Event()
    signed_up: list[str] = []
    sign_ups = asyncio.create_task(_sign_ups(live_server, fund.id, stop_sign_ups, signed_up))
    async with httpx.AsyncClient(base_url=live_server, timeout=30, headers=fund.admin.headers) as http:
        r = await http.post(f"/api/v1/communities/{fund.id}/settlements", json={"period": PERIOD})
        assert r.status_code == 202, r.text
        run_id = r.json()["id"]

        kills: list[dict[str, Any]] = []
        for _ in range(KILLS):
            before = await settled_lines()
            worker = start_worker(env)

            async def progressed(before: int = before) -> bool:
                return await settled_lines() > before

            await eventually(progressed, timeout=180, interval=0.02)
            worker.kill()  # SIGKILL: no shutdown, its taken messages and open transactions are left as they are
            kills.append(
                {
                    "lines": await settled_lines(),
                    "unsent_events": await unsent_events(),
                    "sent_undelivered_events": await sent_undelivered(),
                }
            )
        last_kill = time.monotonic()
        start_worker(env)

        async def completed() -> dict[str, Any] | None:
            run = (await http.get(f"/api/v1/settlements/{run_id}")).json()
            return run if run["status"] == "completed" else None

        run = await eventually(completed, timeout=300, interval=0.5)
        settled_seconds = time.monotonic() - last_kill
    stop_sign_ups.set()
    await sign_ups

    # Every kill landed in the middle of the work, not before it or after it.
    assert all(0 < k["lines"] < total for k in kills), kills
    assert [k["lines"] for k in kills] == sorted({k["lines"] for k in kills})
    assert any(k["unsent_events"] + k["sent_undelivered_events"] > 0 for k in kills), kills

    # Each booking settled once, every transaction balanced, the fund exact to the fen, and said so by reconcile.
    assert await settled_lines() == total
    assert await _lines_settled_twice() == 0
    assert run["bookings_settled"] == total
    assert await unbalanced_transactions() == 0
    assert await fund_balance_sql(fund.id) == exact_fen
    reconciled = _reconcile(fund.id)
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr

    # Every sign-up's event reached its actor once, through three dead workers.
    async def welcomed() -> bool:
        return set(await _welcomes(signed_up)) == set(signed_up) and await unsent_events() == 0

    await eventually(welcomed, timeout=120, interval=0.5)
    assert await _welcomes(signed_up) == dict.fromkeys(signed_up, 1)

    results.record(
        "worker_kill",
        bookings=total,
        partners=PARTNERS,
        sigkills=KILLS,
        lines_settled_at_each_kill=", ".join(f"{k['lines']:,}" for k in kills),
        events_in_flight_at_each_kill=", ".join(f"{k['unsent_events'] + k['sent_undelivered_events']}" for k in kills),
        bookings_settled=total,
        bookings_settled_twice=0,
        unbalanced_transactions=0,
        fund_balance_fen=exact_fen,
        reconcile_exit_code=reconciled.returncode,
        sign_ups_during=len(signed_up),
        sign_ups_welcomed_once=len(signed_up),
        seconds_from_last_kill_to_settled=round(settled_seconds, 1),
        worker_heartbeat_seconds=HEARTBEAT_SECONDS,
    )
