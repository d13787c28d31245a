"""Partners apply, are approved, suspended and reinstated by their community; members and revenue share."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest

from linli import db
from partners import services
from tests.api import community_with_staff, grant, sign_up
from tests.partners_api import approved_partner, partner, partner_staff

API = "/api/v1"


def today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


async def count(sql: str, *args) -> int:
    return int(await db.fetchval(sql, *args))


async def test_resident_applies_and_becomes_the_partner_admin(client):
    setup = await community_with_staff(client)
    owner = await sign_up(client, "黄老板")
    r = await client.post(
        f"{API}/partners",
        json={
            "name": "光阳爱心食堂",
            "kind": "canteen",
            "community_id": setup.id,
            "description": "为老人提供午餐",
            "contact_phone": "0898-6612345",
        },
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "pending"
    assert body["created_by"] == owner.id
    members = await client.get(f"{API}/partners/{body['id']}/members", headers=owner.headers)
    assert [(m["user_id"], m["role"]) for m in members.json()] == [(owner.id, "admin")]
    assert await count("SELECT count(*) FROM audit_events WHERE action = 'partner.applied'") == 1


async def test_staff_approve_suspend_and_reinstate_a_partner_each_audited_with_reason(client):
    setup = await community_with_staff(client)
    p = await partner(client, setup)
    steps = [
        ("approve", "资质齐全", "approved"),
        ("suspend", "食品安全检查不合格", "suspended"),
        ("reinstate", "整改完成", "approved"),
    ]
    for action, reason, status in steps:
        r = await client.post(f"{API}/partners/{p.id}/{action}", json={"reason": reason}, headers=setup.staff.headers)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == status
    rows = await db.fetch(
        "SELECT action, reason, actor_user_id FROM audit_events WHERE object_id = $1 AND action LIKE 'partner.%'"
        " AND action <> 'partner.applied' ORDER BY created_at",
        UUID(p.id),
    )
    assert [(r["action"], r["reason"]) for r in rows] == [
        ("partner.approve", "资质齐全"),
        ("partner.suspend", "食品安全检查不合格"),
        ("partner.reinstate", "整改完成"),
    ]
    assert {r["actor_user_id"] for r in rows} == {UUID(setup.staff.id)}


async def test_approve_needs_no_body_but_reject_and_suspend_need_a_reason(client):
    setup = await community_with_staff(client)
    p = await partner(client, setup)
    r = await client.post(f"{API}/partners/{p.id}/reject", json={"reason": "  "}, headers=setup.staff.headers)
    assert r.status_code == 422
    assert r.json()["code"] == "reason_required"
    r = await client.post(f"{API}/partners/{p.id}/approve", headers=setup.staff.headers)
    assert r.status_code == 200
    r = await client.post(f"{API}/partners/{p.id}/suspend", headers=setup.staff.headers)
    assert r.status_code == 422
    assert (await client.get(f"{API}/partners/{p.id}")).json()["status"] == "approved"


@pytest.mark.parametrize(
    ("path_to_state", "action"),
    [
        ([], "suspend"),
        ([], "reinstate"),
        (["approve"], "approve"),
        (["approve"], "reject"),
        (["approve"], "reinstate"),
        (["reject"], "approve"),
        (["reject"], "suspend"),
        (["reject"], "reinstate"),
        (["approve", "suspend"], "suspend"),
        (["approve", "suspend"], "approve"),
        (["approve", "suspend"], "reject"),
    ],
)
async def test_illegal_partner_transitions_are_409_and_change_nothing(client, path_to_state, action):
    setup = await community_with_staff(client)
    p = await partner(client, setup)
    for step in path_to_state:
        r = await client.post(f"{API}/partners/{p.id}/{step}", json={"reason": "x"}, headers=setup.staff.headers)
        assert r.status_code == 200
    before = (await client.get(f"{API}/partners/{p.id}", headers=setup.staff.headers)).json()["status"]
    audits = await count("SELECT count(*) FROM audit_events")
    r = await client.post(f"{API}/partners/{p.id}/{action}", json={"reason": "x"}, headers=setup.staff.headers)
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "invalid_transition"
    after = (await client.get(f"{API}/partners/{p.id}", headers=setup.staff.headers)).json()["status"]
    assert after == before
    assert await count("SELECT count(*) FROM audit_events") == audits


async def test_only_staff_of_the_partners_own_community_may_decide(client):
    setup = await community_with_staff(client)
    other = await community_with_staff(client, "海甸社区")
    p = await partner(client, setup)
    resident = await sign_up(client, "陈阿婆")
    await grant(client, setup.admin, setup.id, resident, "resident")
    # A pending partner is invisible to outsiders (404); its own admin sees it but may not approve it (403).
    for person, expected in [(resident, 404), (other.staff, 404), (other.admin, 404), (p.admin, 403)]:
        r = await client.post(f"{API}/partners/{p.id}/approve", headers=person.headers)
        assert r.status_code == expected, (person.name, r.text)
    assert (await client.get(f"{API}/partners/{p.id}", headers=setup.staff.headers)).json()["status"] == "pending"
    # Once approved the partner is public, so refusals become 403.
    await client.post(f"{API}/partners/{p.id}/approve", headers=setup.admin.headers)
    for person in [resident, other.staff, p.admin]:
        r = await client.post(f"{API}/partners/{p.id}/suspend", json={"reason": "x"}, headers=person.headers)
        assert r.status_code == 403
    assert (await client.get(f"{API}/partners/{p.id}")).json()["status"] == "approved"


async def test_pending_partners_are_seen_only_by_their_people_and_community_staff(client):
    setup = await community_with_staff(client)
    other = await community_with_staff(client, "海甸社区")
    pending = await partner(client, setup, name="待审托育")
    approved = await approved_partner(client, setup, name="普惠托育", kind="childcare")
    stranger = await sign_up(client, "路人")
    assert (await client.get(f"{API}/partners/{pending.id}")).status_code == 404
    assert (await client.get(f"{API}/partners/{pending.id}", headers=stranger.headers)).status_code == 404
    assert (await client.get(f"{API}/partners/{pending.id}", headers=other.staff.headers)).status_code == 404
    assert (await client.get(f"{API}/partners/{pending.id}", headers=pending.admin.headers)).status_code == 200
    assert (await client.get(f"{API}/partners/{pending.id}", headers=setup.staff.headers)).status_code == 200
    assert (await client.get(f"{API}/partners/{approved.id}")).status_code == 200

    public = (await client.get(f"{API}/partners", params={"community_id": setup.id})).json()
    assert [i["id"] for i in public["items"]] == [approved.id]
    assert public["total"] == 1
    asked_pending = await client.get(
        f"{API}/partners", params={"community_id": setup.id, "status": "pending"}, headers=other.staff.headers
    )
    assert asked_pending.json()["items"] == []
    staff_view = await client.get(f"{API}/partners", params={"community_id": setup.id}, headers=setup.staff.headers)
    assert {i["id"] for i in staff_view.json()["items"]} == {pending.id, approved.id}
    only_pending = await client.get(
        f"{API}/partners", params={"community_id": setup.id, "status": "pending"}, headers=setup.staff.headers
    )
    assert [i["id"] for i in only_pending.json()["items"]] == [pending.id]


async def test_partner_admin_invites_staff_and_staff_cannot_invite(client):
    setup = await community_with_staff(client)
    p = await approved_partner(client, setup)
    other_partner = await approved_partner(client, setup, name="家电维修", kind="repair")
    waiter = await partner_staff(client, p, "服务员小周")
    newcomer = await sign_up(client, "新人")
    r = await client.post(
        f"{API}/partners/{p.id}/members", json={"user_id": newcomer.id, "role": "staff"}, headers=waiter.headers
    )
    assert r.status_code == 403
    r = await client.post(
        f"{API}/partners/{p.id}/members",
        json={"user_id": newcomer.id, "role": "admin"},
        headers=other_partner.admin.headers,
    )
    assert r.status_code == 403
    # Community staff oversee partners but do not run them.
    r = await client.post(
        f"{API}/partners/{p.id}/members", json={"user_id": newcomer.id, "role": "staff"}, headers=setup.staff.headers
    )
    assert r.status_code == 403
    members = (await client.get(f"{API}/partners/{p.id}/members", headers=waiter.headers)).json()
    assert {(m["name"], m["role"]) for m in members} == {("黄老板", "admin"), ("服务员小周", "staff")}
    assert (await client.get(f"{API}/partners/{p.id}/members", headers=newcomer.headers)).status_code == 403
    assert (await client.get(f"{API}/partners/{p.id}/members", headers=setup.staff.headers)).status_code == 200
    assert await services.member_user_ids(partner_id=UUID(p.id), role="staff") == [UUID(waiter.id)]


async def test_bad_member_input_writes_nothing(client):
    setup = await community_with_staff(client)
    p = await approved_partner(client, setup)
    before = await count("SELECT count(*) FROM partner_members")
    for body, status in [
        ({"user_id": str(uuid4()), "role": "staff"}, 404),
        ({"user_id": "not-a-uuid", "role": "staff"}, 422),
        ({"user_id": p.admin.id, "role": "owner"}, 422),
        ({"role": "staff"}, 422),
    ]:
        r = await client.post(f"{API}/partners/{p.id}/members", json=body, headers=p.headers)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.post(
        f"{API}/partners/{uuid4()}/members", json={"user_id": p.admin.id, "role": "staff"}, headers=p.headers
    )
    assert r.status_code == 404
    assert r.json()["code"] == "partner_not_found"
    assert await count("SELECT count(*) FROM partner_members") == before


@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "kind": "canteen"},
        {"name": "   ", "kind": "canteen"},
        {"name": "食" * 101, "kind": "canteen"},
        {"name": "食堂", "kind": "casino"},
        {"name": "食堂", "kind": "canteen", "description": "长" * 2001},
        {"name": "食堂", "kind": "canteen", "contact_phone": "call me"},
        {"name": "食堂"},
    ],
)
async def test_bad_partner_applications_are_422_and_write_nothing(client, body):
    setup = await community_with_staff(client)
    owner = await sign_up(client)
    r = await client.post(f"{API}/partners", json={"community_id": setup.id, **body}, headers=owner.headers)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "validation_error"
    assert await count("SELECT count(*) FROM partners") == 0
    assert await count("SELECT count(*) FROM partner_members") == 0


async def test_applying_to_an_unknown_community_is_404_and_anonymous_is_401(client):
    owner = await sign_up(client)
    r = await client.post(
        f"{API}/partners", json={"name": "食堂", "kind": "canteen", "community_id": str(uuid4())}, headers=owner.headers
    )
    assert r.status_code == 404
    assert r.json()["code"] == "community_not_found"
    r = await client.post(f"{API}/partners", json={"name": "食堂", "kind": "canteen", "community_id": str(uuid4())})
    assert r.status_code == 401
    assert await count("SELECT count(*) FROM partners") == 0


async def test_unknown_or_malformed_partner_ids(client):
    setup = await community_with_staff(client)
    assert (await client.get(f"{API}/partners/{uuid4()}")).json()["code"] == "partner_not_found"
    r = await client.post(f"{API}/partners/{uuid4()}/approve", headers=setup.staff.headers)
    assert r.status_code == 404
    r = await client.post(f"{API}/partners/12345/approve", headers=setup.staff.headers)
    assert r.status_code in (404, 422)
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_retried_application_with_the_same_idempotency_key_creates_one_partner(client):
    setup = await community_with_staff(client)
    owner = await sign_up(client)
    body = {"name": "光阳爱心食堂", "kind": "canteen", "community_id": setup.id}
    headers = {**owner.headers, "Idempotency-Key": "apply-1"}
    first = await client.post(f"{API}/partners", json=body, headers=headers)
    second = await client.post(f"{API}/partners", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert await count("SELECT count(*) FROM partners") == 1


# --- revenue share ------------------------------------------------------------------------------------------


async def test_community_admin_versions_the_revenue_share_and_history_is_kept(client):
    setup = await community_with_staff(client)
    p = await approved_partner(client, setup)
    later = today() + timedelta(days=30)
    for rate, start, category in [(500, today(), None), (800, later, None), (300, today(), "meal")]:
        body = {"rate_bp": rate, "effective_from": start.isoformat(), "category": category}
        r = await client.put(f"{API}/partners/{p.id}/revenue-share", json=body, headers=setup.admin.headers)
        assert r.status_code == 200, r.text
    history = (await client.get(f"{API}/partners/{p.id}/revenue-share", headers=p.headers)).json()
    assert [(h["version"], h["rate_bp"], h["category"]) for h in history] == [
        (3, 300, "meal"),
        (2, 800, None),
        (1, 500, None),
    ]
    pid = UUID(p.id)
    meal_now = await services.agreement_in_force(partner_id=pid, category="meal", on_date=today())
    assert meal_now is not None and meal_now[1] == 300
    assert meal_now[0] == UUID(history[0]["id"])
    assert await rate_in_force(pid, "repair", today()) == 500
    assert await rate_in_force(pid, "repair", later) == 800
    assert await rate_in_force(pid, "meal", later) == 300
    assert (
        await services.agreement_in_force(partner_id=pid, category="meal", on_date=today() - timedelta(days=1)) is None
    )


async def test_a_newer_version_on_the_same_day_wins(client):
    setup = await community_with_staff(client)
    p = await approved_partner(client, setup)
    for rate in (500, 650):
        body = {"rate_bp": rate, "effective_from": today().isoformat()}
        r = await client.put(f"{API}/partners/{p.id}/revenue-share", json=body, headers=setup.admin.headers)
        assert r.status_code == 200
    assert await rate_in_force(UUID(p.id), "meal", today()) == 650


async def rate_in_force(partner_id: UUID, category: str, on: date) -> int | None:
    found = await services.agreement_in_force(partner_id=partner_id, category=category, on_date=on)
    return found[1] if found else None


async def test_revenue_share_cannot_rewrite_the_past_nor_exceed_bounds(client):
    setup = await community_with_staff(client)
    p = await approved_partner(client, setup)
    for body, code in [
        ({"rate_bp": 500, "effective_from": (today() - timedelta(days=1)).isoformat()}, "effective_from_in_past"),
        ({"rate_bp": 10_001, "effective_from": today().isoformat()}, "validation_error"),
        ({"rate_bp": -1, "effective_from": today().isoformat()}, "validation_error"),
        ({"rate_bp": 5.5, "effective_from": today().isoformat()}, "validation_error"),
        ({"rate_bp": 500, "effective_from": "next monday"}, "validation_error"),
        ({"rate_bp": 500, "effective_from": today().isoformat(), "category": "casino"}, "validation_error"),
    ]:
        r = await client.put(f"{API}/partners/{p.id}/revenue-share", json=body, headers=setup.admin.headers)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["code"] == code
    assert await count("SELECT count(*) FROM revenue_share_agreements") == 0


async def test_only_the_partners_community_admin_sets_the_share(client):
    setup = await community_with_staff(client)
    other = await community_with_staff(client, "海甸社区")
    p = await approved_partner(client, setup)
    body = {"rate_bp": 500, "effective_from": today().isoformat()}
    for person in [setup.staff, p.admin, other.admin]:
        r = await client.put(f"{API}/partners/{p.id}/revenue-share", json=body, headers=person.headers)
        assert r.status_code == 403, person.name
    stranger = await sign_up(client)
    assert (await client.get(f"{API}/partners/{p.id}/revenue-share", headers=stranger.headers)).status_code == 403
    assert (await client.get(f"{API}/partners/{p.id}/revenue-share", headers=other.staff.headers)).status_code == 403
    assert await count("SELECT count(*) FROM revenue_share_agreements") == 0
    # The platform admin may do what a community admin may.
    r = await client.put(f"{API}/partners/{p.id}/revenue-share", json=body, headers=setup.platform.headers)
    assert r.status_code == 200


async def test_require_partner_role_admits_admins_staff_and_community_staff_as_documented(client):
    from linli.auth.security import load_user
    from linli.errors import Forbidden, NotFound

    setup = await community_with_staff(client)
    other = await community_with_staff(client, "海甸社区")
    p = await partner(client, setup)  # still pending
    waiter = await partner_staff(client, p)
    pid = UUID(p.id)

    async def user(person):
        return await load_user(UUID(person.id))

    assert (await services.require_partner_role(await user(p.admin), pid, "admin")).id == pid
    assert (await services.require_partner_role(await user(waiter), pid, "staff")).id == pid
    assert (await services.require_partner_role(await user(setup.staff), pid, "staff")).id == pid
    with pytest.raises(Forbidden):
        await services.require_partner_role(await user(waiter), pid, "admin")
    with pytest.raises(Forbidden):
        await services.require_partner_role(await user(setup.staff), pid, "admin")
    with pytest.raises(NotFound):
        await services.require_partner_role(await user(other.staff), pid, "staff")
    assert not await services.is_selling(pid)
