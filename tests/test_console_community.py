"""Staff set residents' priority groups and roles; residents propose and vote in 百姓微实事 while staff run the
round; each refusal is the API's."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from linli import db
from tests.api import community_with_staff, sign_up
from tests.console_helpers import signed_in
from tests.marketplace_api import resident


async def test_staff_mark_a_residents_priority_groups_and_the_admin_grants_a_role(app: Any, client: Any) -> None:
    setup = await community_with_staff(client, "光阳社区")
    granny = await resident(client, setup, "陈阿婆")
    async with signed_in(app, setup.staff) as tab:
        page = f"/staff/{setup.id}/people"
        assert "陈阿婆" in (await tab.get(page)).text
        r = await tab.submit(page, f"{page}/{granny.id}/groups", {"groups": ["elderly_alone", "disabled"]})
        assert r.status_code == 303
        r = await tab.submit(page, f"{page}/{granny.id}/groups", {"groups": ["astronaut"]})
        assert r.status_code == 422 and 'role="alert"' in r.text
        r = await tab.submit(page, f"{page}/{granny.id}/grant", {"role": "staff"})
        assert r.status_code == 403  # roles are the admin's to give
    groups = await client.get(f"/api/v1/communities/{setup.id}/residents/{granny.id}", headers=setup.staff.headers)
    assert sorted(groups.json()["priority_groups"]) == ["disabled", "elderly_alone"]
    async with signed_in(app, setup.admin) as tab:
        r = await tab.submit(
            f"/staff/{setup.id}/people", f"/staff/{setup.id}/people/{granny.id}/grant", {"role": "staff"}
        )
        assert r.status_code == 303
    roles = await db.fetch("SELECT role FROM community_memberships WHERE user_id = $1", UUID(granny.id))
    assert {r["role"] for r in roles} == {"resident", "staff"}


async def test_residents_propose_and_vote_once_in_a_round_staff_run(app: Any, client: Any) -> None:
    setup = await community_with_staff(client, "光阳社区")
    granny = await resident(client, setup, "陈阿婆")
    uncle = await resident(client, setup, "林阿伯")
    page = f"/budget/{setup.id}"
    async with signed_in(app, setup.staff) as tab:
        r = await tab.submit(page, f"{page}/rounds", {"title": "2027年第一轮", "budget_yuan": "-1"})
        assert r.status_code == 400 and 'id="e-budget_yuan"' in r.text
        r = await tab.submit(page, f"{page}/rounds", {"title": "2027年第一轮", "budget_yuan": "5000"})
        assert r.status_code == 303
    round_id = await db.fetchval("SELECT id FROM budget_rounds")
    async with signed_in(app, granny) as tab:
        r = await tab.submit(
            page, f"{page}/rounds/{round_id}/propose", {"title": "楼道加装扶手", "requested_yuan": "3000"}
        )
        assert r.status_code == 303
    proposal_id = await db.fetchval("SELECT id FROM budget_proposals")
    async with signed_in(app, setup.staff) as tab:
        assert (
            await tab.submit(page, f"{page}/rounds/{round_id}/shortlist", {"proposal_id": str(proposal_id)})
        ).status_code == 303
        assert (await tab.submit(page, f"{page}/rounds/{round_id}/voting", {})).status_code == 303
    for person in (granny, uncle):
        async with signed_in(app, person) as tab:
            r = await tab.submit(page, f"{page}/rounds/{round_id}/vote", {"proposal_id": str(proposal_id)})
            assert r.status_code == 303
            again = await tab.submit(page, f"{page}/rounds/{round_id}/vote", {"proposal_id": str(proposal_id)})
            assert again.status_code == 400 and 'role="alert"' in again.text  # one vote each
    assert await db.fetchval("SELECT count(*) FROM budget_votes") == 2

    outsider = await sign_up(client, "外人")
    async with signed_in(app, outsider) as tab:
        assert (await tab.get(page)).status_code in (403, 404)
        r = await tab.submit("/account", f"{page}/rounds/{round_id}/vote", {"proposal_id": str(proposal_id)})
        assert r.status_code in (403, 404)
    assert await db.fetchval("SELECT count(*) FROM budget_votes") == 2
