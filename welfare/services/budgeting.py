"""Participatory budgeting (百姓微实事): residents propose, staff shortlist, residents vote, admins close.

One vote per resident per round is held by a unique constraint on (round, voter). Closing a round funds the
shortlisted proposals by votes (ties: the earlier proposal) while the round's budget and the fund's balance
cover them; each winner becomes an approved `project` disbursement whose ledger transaction has the vote
(the round) as its source.
"""

from __future__ import annotations

from uuid import UUID, uuid4

from community import access
from linli import audit, db
from linli.auth.security import CurrentUser
from linli.errors import Conflict, InvalidTransition, NotFound
from welfare.errors import ALREADY_VOTED, PROPOSAL_NOT_FOUND, ROUND_NOT_FOUND
from welfare.schemas import BudgetProposalIn, BudgetProposalOut, BudgetRoundIn, BudgetRoundOut, VoteIn, VoteOut
from welfare.services import fund, ledger


async def _round_row(round_id: UUID, *, for_update: bool = False) -> dict:
    row = await db.fetchrow(
        "SELECT id, community_id, title, budget_fen, status, created_at, closed_at FROM budget_rounds WHERE id = $1"
        + (" FOR UPDATE" if for_update else ""),
        round_id,
    )
    if row is None:
        raise NotFound("no such round", code=ROUND_NOT_FOUND)
    return dict(row)


async def _proposals(round_id: UUID) -> list[BudgetProposalOut]:
    rows = await db.fetch(
        "SELECT p.id, p.round_id, p.title, p.description, p.requested_fen, p.status, p.created_at,"
        " (SELECT count(*) FROM budget_votes v WHERE v.proposal_id = p.id) AS votes"
        " FROM budget_proposals p WHERE p.round_id = $1 ORDER BY votes DESC, p.created_at, p.id",
        round_id,
    )
    return [BudgetProposalOut(**{**dict(r), "votes": int(r["votes"])}) for r in rows]


async def _out(round_id: UUID) -> BudgetRoundOut:
    row = await _round_row(round_id)
    return BudgetRoundOut(**row, proposals=await _proposals(round_id))


async def create_round(*, actor: CurrentUser, community_id: UUID, round_in: BudgetRoundIn) -> BudgetRoundOut:
    """Open a round for proposals (community staff)."""
    await access.require_role(actor, community_id, "staff")
    round_id = uuid4()
    await db.execute(
        "INSERT INTO budget_rounds (id, community_id, title, budget_fen, status, created_by, created_at)"
        " VALUES ($1, $2, $3, $4, 'proposing', $5, now())",
        round_id,
        community_id,
        round_in.title,
        round_in.budget_fen,
        actor.id,
    )
    return await _out(round_id)


async def _visible_round(actor: CurrentUser, round_id: UUID) -> dict:
    row = await _round_row(round_id)
    if not (
        await access.has_role(actor, row["community_id"], "resident")
        or await access.has_role(actor, row["community_id"], "staff")
    ):
        raise NotFound("no such round", code=ROUND_NOT_FOUND)
    return row


async def get(*, actor: CurrentUser, round_id: UUID) -> BudgetRoundOut:
    await _visible_round(actor, round_id)
    return await _out(round_id)


async def get_all(*, actor: CurrentUser, community_id: UUID) -> list[BudgetRoundOut]:
    if not await access.has_role(actor, community_id, "resident"):
        await access.require_role(actor, community_id, "staff")
    rows = await db.fetch(
        "SELECT id FROM budget_rounds WHERE community_id = $1 ORDER BY created_at DESC, id", community_id
    )
    return [await _out(r["id"]) for r in rows]


async def propose(*, actor: CurrentUser, round_id: UUID, proposal_in: BudgetProposalIn) -> BudgetProposalOut:
    """A resident proposes a use of the fund while the round takes proposals."""
    row = await _visible_round(actor, round_id)
    await access.require_role(actor, row["community_id"], "resident")
    row = await _round_row(round_id, for_update=True)
    if row["status"] != "proposing":
        raise InvalidTransition(entity="budget round", current=row["status"], action="accept proposals")
    proposal_id = uuid4()
    await db.execute(
        "INSERT INTO budget_proposals (id, round_id, community_id, proposer_id, title, description, requested_fen,"
        " status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'submitted', now())",
        proposal_id,
        round_id,
        row["community_id"],
        actor.id,
        proposal_in.title,
        proposal_in.description,
        proposal_in.requested_fen,
    )
    [out] = [p for p in await _proposals(round_id) if p.id == proposal_id]
    return out


async def _decide_proposal(actor: CurrentUser, proposal_id: UUID, status: str) -> BudgetProposalOut:
    row = await db.fetchrow("SELECT round_id, community_id, status FROM budget_proposals WHERE id = $1", proposal_id)
    if row is None:
        raise NotFound("no such proposal", code=PROPOSAL_NOT_FOUND)
    await access.require_role(actor, row["community_id"], "staff")
    round_row = await _round_row(row["round_id"], for_update=True)
    if round_row["status"] != "proposing":
        raise InvalidTransition(entity="budget round", current=round_row["status"], action="change its shortlist")
    if row["status"] not in ("submitted", "shortlisted", "rejected"):
        raise InvalidTransition(entity="proposal", current=row["status"], action=status)
    await db.execute("UPDATE budget_proposals SET status = $2 WHERE id = $1", proposal_id, status)
    [out] = [p for p in await _proposals(row["round_id"]) if p.id == proposal_id]
    return out


async def shortlist(*, actor: CurrentUser, proposal_id: UUID) -> BudgetProposalOut:
    """Staff put a proposal on the ballot."""
    return await _decide_proposal(actor, proposal_id, "shortlisted")


async def reject(*, actor: CurrentUser, proposal_id: UUID) -> BudgetProposalOut:
    return await _decide_proposal(actor, proposal_id, "rejected")


async def open_voting(*, actor: CurrentUser, round_id: UUID) -> BudgetRoundOut:
    row = await _round_row(round_id)
    await access.require_role(actor, row["community_id"], "staff")
    row = await _round_row(round_id, for_update=True)
    if row["status"] != "proposing":
        raise InvalidTransition(entity="budget round", current=row["status"], action="open voting")
    if not await db.fetchval("SELECT 1 FROM budget_proposals WHERE round_id = $1 AND status = 'shortlisted'", round_id):
        raise Conflict("shortlist at least one proposal before voting")
    await db.execute("UPDATE budget_rounds SET status = 'voting' WHERE id = $1", round_id)
    return await _out(round_id)


async def vote(*, actor: CurrentUser, round_id: UUID, vote_in: VoteIn) -> VoteOut:
    """A resident's one vote in the round, for a shortlisted proposal (409 `already_voted` the second time)."""
    row = await _visible_round(actor, round_id)
    await access.require_role(actor, row["community_id"], "resident")
    if row["status"] != "voting":
        raise InvalidTransition(entity="budget round", current=row["status"], action="vote")
    proposal = await db.fetchrow(
        "SELECT status FROM budget_proposals WHERE id = $1 AND round_id = $2", vote_in.proposal_id, round_id
    )
    if proposal is None:
        raise NotFound("no such proposal in this round", code=PROPOSAL_NOT_FOUND)
    if proposal["status"] != "shortlisted":
        raise InvalidTransition(entity="proposal", current=proposal["status"], action="receive votes")
    vote_row = await db.fetchrow(
        "INSERT INTO budget_votes (id, round_id, proposal_id, community_id, voter_id, created_at)"
        " VALUES (gen_random_uuid(), $1, $2, $3, $4, now()) ON CONFLICT (round_id, voter_id) DO NOTHING"
        " RETURNING id, round_id, proposal_id, created_at",
        round_id,
        vote_in.proposal_id,
        row["community_id"],
        actor.id,
    )
    if vote_row is None:
        raise Conflict("one vote per resident per round", code=ALREADY_VOTED)
    return VoteOut(**dict(vote_row))


async def close(*, actor: CurrentUser, round_id: UUID) -> BudgetRoundOut:
    """Close voting and fund the winners from the fund (community admins: this moves money)."""
    row = await _round_row(round_id)
    await access.require_role(actor, row["community_id"], "admin")
    community_id = row["community_id"]
    fund_id = await ledger.lock_fund(community_id=community_id)
    row = await _round_row(round_id, for_update=True)
    if row["status"] != "voting":
        raise InvalidTransition(entity="budget round", current=row["status"], action="close")
    budget_left = int(row["budget_fen"])
    fund_left = await ledger.fund_balance(community_id=community_id)
    payable = await ledger.payable_account(community_id=community_id, key=ledger.PROJECTS_PAYABLE)
    period = await fund.local_period(community_id)
    for proposal in await _proposals(round_id):
        if proposal.status != "shortlisted":
            continue
        amount = proposal.requested_fen
        if proposal.votes == 0 or amount > budget_left or amount > fund_left:
            await db.execute("UPDATE budget_proposals SET status = 'not_funded' WHERE id = $1", proposal.id)
            continue
        disbursement_id = uuid4()
        posted = await ledger.post(
            community_id=community_id,
            kind="project",
            source_type="vote",
            source_id=round_id,
            period=period,
            entries=[(fund_id, -amount), (payable, amount)],
            memo=f"百姓微实事: {proposal.title} ({proposal.votes} 票)",
            created_by=actor.id,
        )
        proposer = await db.fetchval("SELECT proposer_id FROM budget_proposals WHERE id = $1", proposal.id)
        await db.execute(
            "INSERT INTO welfare_disbursements (id, community_id, kind, proposal_id, amount_fen, reason, status,"
            " requested_by, decided_by, decided_at, period, transaction_id, created_at)"
            " VALUES ($1, $2, 'project', $3, $4, $5, 'approved', $6, $7, now(), $8, $9, now())",
            disbursement_id,
            community_id,
            proposal.id,
            amount,
            proposal.title,
            proposer,
            actor.id,
            period,
            posted.id,
        )
        await db.execute("UPDATE budget_proposals SET status = 'funded' WHERE id = $1", proposal.id)
        budget_left -= amount
        fund_left -= amount
    await db.execute("UPDATE budget_rounds SET status = 'closed', closed_at = now() WHERE id = $1", round_id)
    await audit.record(
        actor_user_id=actor.id,
        action="welfare.budget_round_closed",
        object_type="budget_round",
        object_id=round_id,
        community_id=community_id,
    )
    return await _out(round_id)
