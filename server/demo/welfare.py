"""Demo step: the district civil affairs bureau's grant and a donation into 光阳社区's welfare fund."""

from __future__ import annotations

from typing import Any

from linli import db
from welfare.schemas import DepositIn
from welfare.services import fund

DEPOSITS = [
    DepositIn(
        amount_fen=5_000_000,  # 50,000.00 yuan
        memo="区民政局2026年度社区救助与为老服务专项资金",
        source="government_grant",
        payer="美兰区民政局",
    ),
    DepositIn(amount_fen=200_000, memo="光阳小区业主爱心捐赠(重阳节)", source="donation", payer="光阳小区业主"),
]


async def load(ctx: Any) -> None:
    """Idempotent: a deposit with the same memo is not made twice."""
    secretary = ctx.people["secretary"]
    for deposit_in in DEPOSITS:
        exists = await db.fetchval(
            "SELECT 1 FROM welfare_deposits WHERE community_id = $1 AND memo = $2", ctx.community_id, deposit_in.memo
        )
        if not exists:
            await fund.create_deposit(actor=secretary, community_id=ctx.community_id, deposit_in=deposit_in)
