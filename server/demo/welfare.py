"""Demo step: money into each welfare fund, last month settled, relief paid, and participatory budgets.

All through the welfare services. Settlement runs in this process exactly as the worker runs it — the run is
requested, fanned out to one batch per partner, and each batch settled — so its ledger transactions are the
settlement's own; the run's outbox events still go out and find the work done (every actor is idempotent).
"""

from __future__ import annotations

from linli import db
from linli.auth.security import CurrentUser
from server.demo import DemoCommunity, DemoContext, Resident
from welfare.schemas import BudgetProposalIn, BudgetRoundIn, DecisionIn, DepositIn, DisbursementIn, VoteIn
from welfare.services import budgeting, fund, settlement

DEPOSITS = {
    "guangyang": [
        DepositIn(
            amount_fen=12_000_000,  # 120,000.00 yuan
            memo="区民政局年度社区救助与为老服务专项资金",
            source="government_grant",
            payer="美兰区民政局",
        ),
        DepositIn(amount_fen=200_000, memo="光阳小区业主爱心捐赠(重阳节)", source="donation", payer="光阳小区业主"),
    ],
    "donghu": [
        DepositIn(
            amount_fen=8_000_000,
            memo="区民政局年度社区为老服务专项资金",
            source="government_grant",
            payer="美兰区民政局",
        ),
        DepositIn(
            amount_fen=100_000, memo="东湖长者饭堂年终反哺捐赠", source="partner_contribution", payer="东湖长者饭堂"
        ),
    ],
    "yelin": [
        DepositIn(
            amount_fen=8_000_000,
            memo="区民政局年度社区为老服务专项资金",
            source="government_grant",
            payer="美兰区民政局",
        ),
        DepositIn(amount_fen=150_000, memo="椰林商户联合会爱心捐赠", source="donation", payer="椰林商户联合会"),
    ],
}

# title, what it is for, fen requested; the last of each round is not shortlisted
PROPOSALS = {
    "guangyang_last_quarter": [
        ("楼道加装扶手", "3栋、5栋、7栋老人多,楼道加装不锈钢扶手。", 800_000),
        ("爱心食堂添置保温送餐车", "冬天送到老人家里的饭菜常常凉了。", 600_000),
        ("儿童阅读角", "党群服务中心一楼开辟儿童阅读角,添置图书。", 500_000),
        ("小区路灯维修", "光阳新村后巷路灯坏了半年,晚上不安全。", 400_000),
        ("广场舞音响", "给文艺队买一套音响。", 300_000),
    ],
    "guangyang": [
        ("长者助浴间改造", "日间照料中心助浴间加装防滑地面和扶手。", 900_000),
        ("社区微花园", "把3栋旁的空地改成居民一起打理的微花园。", 500_000),
        ("四点半课堂志愿者交通补贴", "给辅导作业的大学生志愿者发放交通补贴。", 300_000),
        ("电梯加装意向调查", "请第三方为老旧楼栋做加装电梯意向调查。", 200_000),
        ("小区大门换成人脸识别", "方便又安全。", 1_500_000),
    ],
    "donghu": [
        ("东湖沿岸增设休息座椅", "老人散步走一段就要歇脚。", 600_000),
        ("老干宿舍加装电动车充电桩", "杜绝飞线充电的火灾隐患。", 900_000),
        ("社区长者健康讲座", "每月一次,请医院医生来讲慢病管理。", 200_000),
    ],
    "yelin": [
        ("城中村消防器材更新", "更换过期灭火器,增设消防栓指示牌。", 700_000),
        ("四点半课堂添置桌椅", "放学后来写作业的孩子越来越多。", 400_000),
        ("椰林小区垃圾分类亭", "B区缺一个分类亭。", 500_000),
    ],
}


def _quarter(ctx: DemoContext, back: int = 0) -> str:
    index = ctx.today.year * 4 + (ctx.today.month - 1) // 3 - back
    return f"{index // 4}年第{index % 4 + 1}季度百姓微实事"


async def _settle(ctx: DemoContext, community: DemoCommunity) -> None:
    run = await settlement.request(actor=community.admin, community_id=community.id, period=ctx.settled_period)
    await settlement.fan_out(run_id=run.id)
    batches = await db.fetch("SELECT id FROM settlement_run_partners WHERE run_id = $1 ORDER BY id", run.id)
    for batch in batches:
        await settlement.settle_partner(batch_id=batch["id"])


async def _round(
    ctx: DemoContext,
    community: DemoCommunity,
    title: str,
    budget_fen: int,
    proposals: list[tuple[str, str, int]],
    *,
    voters: int,
    close: bool,
) -> None:
    """A round: residents propose, staff shortlist all but the last, residents vote; closed rounds fund winners."""
    staff = community.staff[0]
    round_out = await budgeting.create_round(
        actor=staff, community_id=community.id, round_in=BudgetRoundIn(title=title, budget_fen=budget_fen)
    )
    residents: list[Resident] = list(community.residents)
    proposers = ctx.rng.sample(residents, len(proposals))
    proposal_ids = []
    for resident, (name, why, fen) in zip(proposers, proposals, strict=True):
        made = await budgeting.propose(
            actor=resident.user,
            round_id=round_out.id,
            proposal_in=BudgetProposalIn(title=name, description=why, requested_fen=fen),
        )
        proposal_ids.append(made.id)
    for proposal_id in proposal_ids[:-1]:
        await budgeting.shortlist(actor=staff, proposal_id=proposal_id)
    await budgeting.reject(actor=staff, proposal_id=proposal_ids[-1])
    await budgeting.open_voting(actor=staff, round_id=round_out.id)
    ballot = proposal_ids[:-1]
    weights = [len(ballot) - i for i in range(len(ballot))]
    for resident in ctx.rng.sample(residents, voters):
        [choice] = ctx.rng.choices(ballot, weights=weights)
        await budgeting.vote(actor=resident.user, round_id=round_out.id, vote_in=VoteIn(proposal_id=choice))
    if close:
        await budgeting.close(actor=community.admin, round_id=round_out.id)


async def _relief(ctx: DemoContext, community: DemoCommunity, *, approve: bool) -> None:
    """Staff ask for relief for a resident in hardship; the secretary (a second person) approves it."""
    needy = [r for r in community.residents if {"special_hardship", "low_income"} & set(r.groups)]
    recipient = ctx.rng.choice(needy)
    requester: CurrentUser = community.staff[-1]
    asked = await fund.request_disbursement(
        actor=requester,
        community_id=community.id,
        disbursement_in=DisbursementIn(
            recipient_user_id=recipient.user.id,
            amount_fen=80_000 if approve else 50_000,
            reason="临时困难救助:家人住院,医药费负担重" if approve else "临时困难救助:失业后房租困难",
        ),
    )
    if approve:
        await fund.approve_disbursement(
            actor=community.admin, disbursement_id=asked.id, decision_in=DecisionIn(note="经走访核实,同意救助")
        )


async def load(ctx: DemoContext) -> None:
    for key, deposits in DEPOSITS.items():
        community = ctx.communities[key]
        for deposit_in in deposits:
            await fund.create_deposit(actor=community.admin, community_id=community.id, deposit_in=deposit_in)
    for community in ctx.communities.values():
        await _settle(ctx, community)
    guangyang = ctx.communities["guangyang"]
    await _relief(ctx, guangyang, approve=True)
    await _relief(ctx, guangyang, approve=False)
    await _relief(ctx, ctx.communities["donghu"], approve=True)
    last_quarter = PROPOSALS["guangyang_last_quarter"]
    await _round(ctx, guangyang, _quarter(ctx, back=1), 1_500_000, last_quarter, voters=48, close=True)
    for key, budget_fen, voters in (("guangyang", 2_000_000, 36), ("donghu", 1_200_000, 30), ("yelin", 1_200_000, 28)):
        community = ctx.communities[key]
        await _round(ctx, community, _quarter(ctx), budget_fen, PROPOSALS[key], voters=voters, close=False)
    ctx.counts["settled"] = int(
        await db.fetchval(
            "SELECT count(*) FROM settlement_lines WHERE period = $1 AND community_id = ANY($2::uuid[])",
            ctx.settled_period,
            [c.id for c in ctx.communities.values()],
        )
    )
