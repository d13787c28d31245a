"""Over random histories of deposits, completed bookings, settlements, relief and reversals, every ledger
transaction balances and the fund's balance equals what an independent model of the rules says."""

from __future__ import annotations

from uuid import UUID, uuid4

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linli import db
from linli.auth.security import CurrentUser
from linli.errors import DomainError
from tests.welfare_api import complete_bookings, partner, unbalanced_transactions
from welfare.schemas import DecisionIn, DepositIn, DisbursementIn, ReversalIn
from welfare.services import fund, ledger, reconcile, settlement

booking = st.tuples(st.integers(0, 60_000), st.integers(0, 100))  # price, subsidy as % of price
operation = st.one_of(
    st.tuples(st.just("deposit"), st.integers(1, 10_000_000)),
    st.tuples(st.just("book"), st.lists(booking, min_size=1, max_size=6), st.integers(0, 10_000), st.integers(0, 1)),
    st.tuples(st.just("settle")),
    st.tuples(st.just("relief"), st.integers(1, 2_000_000)),
    st.tuples(st.just("reverse_deposit")),
)


async def _world() -> tuple[UUID, CurrentUser, CurrentUser, UUID]:
    community_id = uuid4()
    await db.execute("INSERT INTO communities (id, name) VALUES ($1, '随机社区')", community_id)
    people = []
    for _ in range(3):
        uid = uuid4()
        await db.execute(
            "INSERT INTO users (id, phone, name, password_hash) VALUES ($1, $2, '测试', 'x')", uid, str(uid.int)[:11]
        )
        people.append(uid)
    await db.execute(
        "INSERT INTO community_memberships (id, community_id, user_id, role) VALUES (gen_random_uuid(), $1, $2,"
        " 'resident')",
        community_id,
        people[2],
    )
    first = CurrentUser(id=people[0], phone="", name="甲", is_platform_admin=True)
    second = CurrentUser(id=people[1], phone="", name="乙", is_platform_admin=True)
    return community_id, first, second, people[2]


async def _settle(community_id: UUID, actor: CurrentUser) -> None:
    async with db.unit_of_work():
        run = await settlement.request(actor=actor, community_id=community_id, period="2026-10")
    async with db.unit_of_work():
        await settlement.fan_out(run_id=run.id)
    for batch in await db.fetch("SELECT id FROM settlement_run_partners WHERE run_id = $1", run.id):
        async with db.unit_of_work():
            await settlement.settle_partner(batch_id=batch["id"])


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=st.lists(operation, max_size=10))
async def test_every_transaction_balances_and_the_fund_matches_the_model(history):
    community_id, first, second, resident = await _world()
    partners = [await partner(str(community_id), str(first.id), name=f"P{k}") for k in range(2)]
    model_balance = 0
    pending_share = pending_subsidy = 0
    deposits: list[tuple[UUID, int]] = []
    for op in history:
        if op[0] == "deposit":
            async with db.unit_of_work():
                out = await fund.create_deposit(
                    actor=first, community_id=community_id, deposit_in=DepositIn(amount_fen=op[1], memo="随机")
                )
            deposits.append((out.transaction_id, op[1]))
            model_balance += op[1]
        elif op[0] == "book":
            _, items, rate_bp, which = op
            prices = [p for p, _ in items]
            subsidies = [p * pct // 100 for p, pct in items]
            partner_id, agreement_id = partners[which]
            await complete_bookings(
                str(community_id),
                partner_id,
                str(resident),
                prices=prices,
                subsidies=subsidies,
                rate_bp=rate_bp,
                agreement_id=agreement_id,
            )
            pending_share += sum(p * rate_bp // 10_000 for p in prices)
            pending_subsidy += sum(subsidies)
        elif op[0] == "settle":
            await _settle(community_id, first)
            model_balance += pending_share - pending_subsidy
            pending_share = pending_subsidy = 0
        elif op[0] == "relief":
            async with db.unit_of_work():
                req = await fund.request_disbursement(
                    actor=first,
                    community_id=community_id,
                    disbursement_in=DisbursementIn(recipient_user_id=resident, amount_fen=op[1], reason="救助"),
                )
            try:
                async with db.unit_of_work():
                    await fund.approve_disbursement(actor=second, disbursement_id=req.id, decision_in=DecisionIn())
                model_balance -= op[1]
            except DomainError as exc:
                assert exc.code == "insufficient_funds"
                assert model_balance < op[1]
        elif op[0] == "reverse_deposit" and deposits:
            tx_id, amount = deposits.pop()
            async with db.unit_of_work():
                await fund.reverse_transaction(actor=first, transaction_id=tx_id, reversal_in=ReversalIn(reason="冲正"))
            model_balance -= amount
    assert await unbalanced_transactions() == 0
    assert await ledger.fund_balance(community_id=community_id) == model_balance
    # Every transaction points to an existing source.
    orphans = await db.fetchval(
        "SELECT count(*) FROM welfare_transactions t WHERE t.community_id = $1 AND t.source_id IS NULL", community_id
    )
    assert orphans == 0
    if pending_share == pending_subsidy == 0:
        for period in ("2026-10", await fund.local_period(community_id)):
            result = await reconcile.reconcile(community_id=community_id, period=period)
            assert result.ok, result.render()
