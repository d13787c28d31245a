"""Community staff at their desk: approving a partner, relief under the two-person rule, a task matched in one
click, and hours approved; each refusal is the API's own, in its words."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from linli import db
from tests.api import community_with_staff
from tests.console_helpers import signed_in
from tests.marketplace_api import resident
from tests.partners_api import SHANGHAI, partner
from tests.volunteers_api import act, catalog, volunteer


async def test_staff_approve_a_partner_and_a_suspension_needs_a_reason(app: Any, client: Any) -> None:
    setup = await community_with_staff(client, "光阳社区")
    applied = await partner(client, setup, name="和乐理发店", kind="other")
    async with signed_in(app, setup.staff) as tab:
        page = await tab.get(f"/staff/{setup.id}/partners")
        assert "和乐理发店" in page.text and "待审核" in page.text
        r = await tab.submit(f"/staff/{setup.id}/partners", f"/staff/{setup.id}/partners/{applied.id}/approve", {})
        assert r.status_code == 303
        r = await tab.submit(f"/staff/{setup.id}/partners", f"/staff/{setup.id}/partners/{applied.id}/suspend", {})
        assert r.status_code in (409, 422) and 'role="alert"' in r.text
        assert await db.fetchval("SELECT status FROM partners") == "approved"


async def test_relief_is_paid_only_when_a_second_person_approves(app: Any, client: Any) -> None:
    setup = await community_with_staff(client, "光阳社区")
    granny = await resident(client, setup, "陈阿婆")
    deposit = await client.post(
        f"/api/v1/communities/{setup.id}/welfare-fund/deposits",
        json={"amount_fen": 100_000, "memo": "区民政局拨款"},
        headers=setup.admin.headers,
    )
    assert deposit.status_code == 201, deposit.text
    async with signed_in(app, setup.admin) as tab:
        for bad in ({"amount_yuan": "-1", "reason": "医疗", "recipient_user_id": granny.id}, {"amount_yuan": "100"}):
            r = await tab.submit(f"/staff/{setup.id}/relief", f"/staff/{setup.id}/relief", bad)
            assert r.status_code == 400 and 'role="alert"' in r.text
        r = await tab.submit(
            f"/staff/{setup.id}/relief",
            f"/staff/{setup.id}/relief",
            {"amount_yuan": "300", "reason": "住院医疗困难", "recipient_user_id": granny.id},
        )
        assert r.status_code == 303
        relief_id = await db.fetchval("SELECT id FROM welfare_disbursements")
        # The one who asked cannot approve: the API's two-person rule, in its words.
        r = await tab.submit(f"/staff/{setup.id}/relief", f"/staff/{setup.id}/relief/{relief_id}/approve", {})
        assert r.status_code == 409 and "双人复核" in r.text
    assert await db.fetchval("SELECT status FROM welfare_disbursements") == "requested"

    second = await community_with_staff(client, "白龙社区")  # a platform admin may approve anywhere
    async with signed_in(app, second.platform) as tab:
        r = await tab.submit(f"/staff/{setup.id}/relief", f"/staff/{setup.id}/relief/{relief_id}/approve", {})
        assert r.status_code == 303
    summary = await client.get(f"/api/v1/communities/{setup.id}/welfare-fund", headers=setup.staff.headers)
    assert summary.json()["balance_fen"] == 70_000


async def test_staff_publish_a_task_match_it_in_one_click_and_approve_the_hours(app: Any, client: Any) -> None:
    setup = await community_with_staff(client, "光阳社区")
    await catalog(client, setup)
    he, _ = await volunteer(client, setup, "何志愿", skills={"meal_delivery": 3})
    async with signed_in(app, setup.staff) as tab:
        # The form's time is the community's (Asia/Shanghai), as the staff member's wall clock shows it.
        start = (datetime.now(UTC) + timedelta(minutes=20)).astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")
        r = await tab.submit(
            f"/staff/{setup.id}/tasks",
            f"/staff/{setup.id}/tasks",
            {"title": "", "starts_at": start, "minutes": "60", "needed": "1"},
        )
        assert r.status_code == 400 and 'id="e-title"' in r.text
        r = await tab.submit(
            f"/staff/{setup.id}/tasks",
            f"/staff/{setup.id}/tasks",
            {"title": "陪陈阿婆去医院", "starts_at": start, "minutes": "60", "needed": "1"},
        )
        assert r.status_code == 303
        task_id = await db.fetchval("SELECT id FROM volunteer_tasks")
        r = await tab.submit(f"/staff/{setup.id}/tasks", f"/staff/{setup.id}/tasks/{task_id}/match", {})
        assert r.status_code == 200 and re.search(r"已发出邀请:1", r.text)
        offer_id = await db.fetchval("SELECT id FROM volunteer_assignments")
        assert (await act(client, he, str(offer_id), "accept")).status_code == 200
        await act(client, he, str(offer_id), "check-in")
        await act(client, he, str(offer_id), "check-out")
        page = await tab.get(f"/staff/{setup.id}/tasks")
        assert "何志愿" in page.text and "陪陈阿婆去医院" in page.text
        r = await tab.submit(
            f"/staff/{setup.id}/tasks", f"/staff/{setup.id}/hours/{offer_id}/approve", {"minutes": "45"}
        )
        assert r.status_code == 303
    assert await db.fetchval("SELECT approved_minutes FROM volunteer_assignments") == 45
