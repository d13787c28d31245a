"""Communities, roles, grids and priority groups: who may do what, and nobody reaches across communities."""

from __future__ import annotations

from uuid import UUID, uuid4

from linli import db
from tests.api import community, community_with_staff, grant, platform_admin, sign_up


async def test_platform_admin_creates_a_community(client):
    admin = await platform_admin(client)
    r = await client.post(
        "/api/v1/communities", json={"name": "湖里社区", "timezone": "Asia/Shanghai"}, headers=admin.headers
    )
    assert r.status_code == 201
    assert r.json()["timezone"] == "Asia/Shanghai"


async def test_resident_cannot_create_a_community(client):
    resident = await sign_up(client, "居民")
    r = await client.post("/api/v1/communities", json={"name": "私建社区"}, headers=resident.headers)
    assert r.status_code == 403
    assert r.json()["code"] == "forbidden"
    assert await db.fetchval("SELECT count(*) FROM communities") == 0


async def test_unknown_time_zone_is_rejected(client):
    admin = await platform_admin(client)
    r = await client.post(
        "/api/v1/communities", json={"name": "火星社区", "timezone": "Mars/Olympus"}, headers=admin.headers
    )
    assert r.status_code == 422


async def test_admin_grants_roles_and_me_shows_them(client):
    setup = await community_with_staff(client)
    me = (await client.get("/api/v1/me", headers=setup.staff.headers)).json()
    assert me["communities"] == [
        {"community_id": setup.id, "community_name": "光阳社区", "roles": ["staff"], "priority_groups": []}
    ]


async def test_staff_cannot_grant_roles(client):
    setup = await community_with_staff(client)
    someone = await sign_up(client, "路人")
    r = await client.post(
        f"/api/v1/communities/{setup.id}/members",
        json={"user_id": someone.id, "role": "admin"},
        headers=setup.staff.headers,
    )
    assert r.status_code == 403
    assert await db.fetchval("SELECT count(*) FROM community_memberships WHERE user_id = $1", UUID(someone.id)) == 0


async def test_granting_an_unknown_role_or_user_is_a_4xx(client):
    setup = await community_with_staff(client)
    r = await client.post(
        f"/api/v1/communities/{setup.id}/members",
        json={"user_id": setup.staff.id, "role": "emperor"},
        headers=setup.admin.headers,
    )
    assert r.status_code == 422
    r = await client.post(
        f"/api/v1/communities/{setup.id}/members",
        json={"user_id": str(uuid4()), "role": "staff"},
        headers=setup.admin.headers,
    )
    assert r.status_code == 404
    assert r.json()["code"] == "user_not_found"


async def test_staff_marks_an_elderly_resident_as_living_alone(client):
    setup = await community_with_staff(client)
    granny = await sign_up(client, "陈阿婆")
    r = await client.put(
        f"/api/v1/communities/{setup.id}/residents/{granny.id}/priority-groups",
        json={"groups": ["elderly_alone", "elderly"]},
        headers=setup.staff.headers,
    )
    assert r.status_code == 200
    assert r.json()["priority_groups"] == ["elderly", "elderly_alone"]
    me = (await client.get("/api/v1/me", headers=granny.headers)).json()
    assert me["communities"][0]["roles"] == ["resident"]
    assert me["communities"][0]["priority_groups"] == ["elderly", "elderly_alone"]
    audit = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE action = 'resident.priority_groups_set' AND object_id = $1",
        UUID(granny.id),
    )
    assert audit == 1


async def test_unknown_priority_group_is_rejected(client):
    setup = await community_with_staff(client)
    granny = await sign_up(client, "陈阿婆")
    r = await client.put(
        f"/api/v1/communities/{setup.id}/residents/{granny.id}/priority-groups",
        json={"groups": ["vip"]},
        headers=setup.staff.headers,
    )
    assert r.status_code == 422
    assert await db.fetchval("SELECT count(*) FROM community_residents") == 0


async def test_staff_of_community_a_cannot_change_residents_of_community_b(client):
    a = await community_with_staff(client, "光阳社区")
    b_id = await community(client, a.platform, "迈瀛社区")
    resident_b = await sign_up(client, "迈瀛居民")
    await grant(client, a.platform, b_id, resident_b, "resident")
    r = await client.put(
        f"/api/v1/communities/{b_id}/residents/{resident_b.id}/priority-groups",
        json={"groups": ["low_income"]},
        headers=a.staff.headers,
    )
    assert r.status_code in (403, 404)
    assert await db.fetchval("SELECT count(*) FROM community_residents") == 0
    # Nor read them, nor list the members, nor add grids.
    assert (
        await client.get(f"/api/v1/communities/{b_id}/residents/{resident_b.id}", headers=a.staff.headers)
    ).status_code == 403
    assert (await client.get(f"/api/v1/communities/{b_id}/members", headers=a.staff.headers)).status_code == 403
    r = await client.post(f"/api/v1/communities/{b_id}/grids", json={"name": "X"}, headers=a.admin.headers)
    assert r.status_code == 403


async def test_admin_of_community_a_cannot_grant_roles_in_community_b(client):
    a = await community_with_staff(client, "光阳社区")
    b_id = await community(client, a.platform, "迈瀛社区")
    r = await client.post(
        f"/api/v1/communities/{b_id}/members",
        json={"user_id": a.admin.id, "role": "admin"},
        headers=a.admin.headers,
    )
    assert r.status_code == 403


async def test_unknown_community_is_404(client):
    setup = await community_with_staff(client)
    r = await client.get(f"/api/v1/communities/{uuid4()}/members", headers=setup.admin.headers)
    assert r.status_code == 404
    assert r.json()["code"] == "community_not_found"


async def test_resident_reads_own_record_but_not_a_neighbours(client):
    setup = await community_with_staff(client)
    me = await sign_up(client, "我")
    neighbour = await sign_up(client, "邻居")
    for person in (me, neighbour):
        await grant(client, setup.admin, setup.id, person, "resident")
    assert (
        await client.get(f"/api/v1/communities/{setup.id}/residents/{me.id}", headers=me.headers)
    ).status_code == 200
    r = await client.get(f"/api/v1/communities/{setup.id}/residents/{neighbour.id}", headers=me.headers)
    assert r.status_code == 403


async def test_grids_and_a_residents_home_grid(client):
    setup = await community_with_staff(client)
    r = await client.post(
        f"/api/v1/communities/{setup.id}/grids",
        json={"name": "第一网格", "description": "1-6栋", "worker_user_id": setup.staff.id},
        headers=setup.admin.headers,
    )
    assert r.status_code == 201
    grid_id = r.json()["id"]
    dup = await client.post(
        f"/api/v1/communities/{setup.id}/grids", json={"name": "第一网格"}, headers=setup.admin.headers
    )
    assert dup.status_code == 409
    resident = await sign_up(client, "居民")
    r = await client.put(
        f"/api/v1/communities/{setup.id}/residents/{resident.id}/grid",
        json={"grid_id": grid_id},
        headers=setup.staff.headers,
    )
    assert r.status_code == 200
    assert r.json()["grid_id"] == grid_id
    grids = (await client.get(f"/api/v1/communities/{setup.id}/grids", headers=setup.staff.headers)).json()
    assert [g["name"] for g in grids] == ["第一网格"]


async def test_a_grid_worker_must_be_staff(client):
    setup = await community_with_staff(client)
    resident = await sign_up(client, "居民")
    r = await client.post(
        f"/api/v1/communities/{setup.id}/grids",
        json={"name": "第二网格", "worker_user_id": resident.id},
        headers=setup.admin.headers,
    )
    assert r.status_code == 409


async def test_platform_admin_acts_as_admin_in_every_community(client):
    setup = await community_with_staff(client)
    someone = await sign_up(client, "新职员")
    await grant(client, setup.platform, setup.id, someone, "staff")
    members = (await client.get(f"/api/v1/communities/{setup.id}/members", headers=setup.platform.headers)).json()
    assert someone.id in {m["user_id"] for m in members}


async def test_revoked_staff_loses_access_at_once(client):
    setup = await community_with_staff(client)
    r = await client.post(
        f"/api/v1/communities/{setup.id}/members/revoke",
        json={"user_id": setup.staff.id, "role": "staff"},
        headers=setup.admin.headers,
    )
    assert r.status_code == 200
    assert (await client.get(f"/api/v1/communities/{setup.id}/members", headers=setup.staff.headers)).status_code == 403


async def test_an_admin_revoking_a_role_from_a_stranger_learns_nothing_of_them(client):
    # Found by the chaos BOLA matrix: the no-op revoke answered 200 with another community's resident's name and
    # phone. Someone with no role here is not this community's to show.
    a = await community_with_staff(client, "光阳社区")
    b = await community_with_staff(client, "白龙社区")
    neighbour = await sign_up(client, "白龙居民")
    await grant(client, b.admin, b.id, neighbour, "resident")
    r = await client.post(
        f"/api/v1/communities/{a.id}/members/revoke",
        json={"user_id": neighbour.id, "role": "resident"},
        headers=a.admin.headers,
    )
    assert r.status_code == 404
    assert r.json()["code"] == "member_not_found"
    assert "白龙居民" not in r.text and neighbour.phone not in r.text
    assert await db.fetchval("SELECT count(*) FROM community_memberships WHERE user_id = $1", UUID(neighbour.id)) == 1


async def test_priority_group_catalog_is_public(client):
    r = await client.get("/api/v1/priority-groups")
    codes = {g["code"] for g in r.json()}
    assert {"elderly_alone", "elderly", "disabled", "low_income", "child", "veteran"} <= codes
