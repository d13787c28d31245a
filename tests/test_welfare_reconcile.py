"""`linli reconcile` proves the ledger equals bookings × agreements − subsidies + deposits − disbursements."""

from __future__ import annotations

import subprocess
import sys
from uuid import UUID

from linli import db
from tests.conftest import process_env
from tests.harness import ROOT
from tests.welfare_api import API, complete_bookings, deposit, fund_setup, partner, settle
from welfare.services import fund as fund_service
from welfare.services import reconcile


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "reconcile", *args],
        env=process_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def _month(client):
    fund = await fund_setup(client)
    canteen, agreement = await partner(fund.id, fund.admin.id, rate_bp=700)
    await complete_bookings(
        fund.id,
        canteen,
        fund.resident.id,
        prices=[1999, 1500, 88],
        subsidies=[999, 0, 88],
        agreement_id=agreement,
        rate_bp=700,
        period="2026-10",
    )
    await settle(client, fund, "2026-10")
    return fund


async def test_reconciliation_of_a_clean_month_passes_to_the_fen(client):
    fund = await _month(client)
    period = await fund_service.local_period(UUID(fund.id))
    await deposit(client, fund, 300_000)
    result = _cli("--community", fund.id, "--period", "2026-10")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout
    this_month = _cli("--community", fund.id, "--period", period)
    assert this_month.returncode == 0, this_month.stdout


async def test_a_rogue_ledger_transaction_makes_reconciliation_fail_with_the_difference(client):
    fund = await _month(client)
    accounts = {r["key"]: r["id"] for r in await db.fetch("SELECT key, id FROM welfare_accounts")}
    partner_key = next(k for k in accounts if k.startswith("partner:"))
    # Someone writes an extra, balanced "share" straight into the ledger: balanced, but not backed by bookings.
    async with db.unit_of_work():
        tx = await db.fetchval(
            "INSERT INTO welfare_transactions (id, community_id, kind, source_type, source_id, period)"
            " VALUES (gen_random_uuid(), $1, 'share', 'settlement', gen_random_uuid(), '2026-10') RETURNING id",
            UUID(fund.id),
        )
        for key, amount in (("fund", 1234), (partner_key, -1234)):
            await db.execute(
                "INSERT INTO welfare_entries (id, transaction_id, community_id, account_id, amount_fen)"
                " VALUES (gen_random_uuid(), $1, $2, $3, $4)",
                tx,
                UUID(fund.id),
                accounts[key],
                amount,
            )
    result = _cli("--community", fund.id, "--period", "2026-10")
    assert result.returncode == 1, result.stdout
    assert "MISMATCH" in result.stdout
    line = next(x for x in result.stdout.splitlines() if x.startswith("shares returned"))
    assert line.split()[-3] == "1234"  # the difference, to the fen
    assert "points to no existing settlement" in result.stdout


async def test_unsettled_bookings_show_as_a_difference(client):
    fund = await _month(client)
    canteen = await db.fetchval("SELECT id FROM partners")
    await complete_bookings(fund.id, canteen, fund.resident.id, prices=[10_000], rate_bp=700, period="2026-10")
    result = await reconcile.reconcile(community_id=UUID(fund.id), period="2026-10")
    assert not result.ok
    assert result.unsettled_bookings == 1
    assert [(d.name, d.difference_fen) for d in result.differences][:1] == [("shares returned", -700)]
    await settle(client, fund, "2026-10")
    assert (await reconcile.reconcile(community_id=UUID(fund.id), period="2026-10")).ok


def test_reconcile_refuses_bad_input():
    assert _cli("--community", "not-a-uuid", "--period", "2026-10").returncode == 2
    assert _cli("--community", "00000000-0000-0000-0000-000000000001", "--period", "2026-13").returncode == 2
    unknown = _cli("--community", "00000000-0000-0000-0000-000000000001", "--period", "2026-10")
    assert unknown.returncode == 2 and "no such community" in unknown.stderr


async def test_reconciliation_follows_relief_and_reversals(client):
    fund = await _month(client)
    r = await deposit(client, fund, 50_000)
    await client.post(
        f"{API}/welfare-transactions/{r.json()['transaction_id']}/reverse",
        json={"reason": "重复录入"},
        headers=fund.admin.headers,
    )
    await deposit(client, fund, 40_000)
    req = await client.post(
        f"{API}/communities/{fund.id}/welfare-fund/disbursements",
        json={"recipient_user_id": fund.resident.id, "amount_fen": 15_000, "reason": "临时救助"},
        headers=fund.staff.headers,
    )
    ok = await client.post(f"{API}/welfare-disbursements/{req.json()['id']}/approve", headers=fund.admin.headers)
    assert ok.status_code == 200
    period = await fund_service.local_period(UUID(fund.id))
    result = await reconcile.reconcile(community_id=UUID(fund.id), period=period)
    assert result.ok, result.render()
    net = next(line for line in result.components if line.name == "fund movement (net)")
    assert net.ledger_fen == 40_000 - 15_000
