"""A new community starts with the common volunteer service categories, which its staff then make their own."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from linli import db
from tests.api import community_with_staff, grant, sign_up
from tests.volunteers_api import ALL_WEEK, task

DEFAULT_NAMES = {"助老", "助残", "急救", "心理疏导", "法律咨询", "家电维修", "文艺", "环保", "治安巡逻", "助学"}


async def _catalogue(client, setup) -> dict[str, str]:
    r = await client.get(f"/api/v1/communities/{setup.id}/skills", headers=setup.staff.headers)
    assert r.status_code == 200, r.text
    return {s["code"]: s["name_zh"] for s in r.json()}


async def _register(client, setup, person, code: str):
    body = {"community_id": setup.id, "skills": [{"code": code, "level": 3}], "availability": ALL_WEEK}
    return await client.post("/api/v1/volunteers", json=body, headers=person.headers)


async def test_a_new_communitys_first_volunteer_registers_with_elderly_care_straight_away(client):
    setup = await community_with_staff(client, "金贸社区")
    # Nobody has defined a skill: the community was created a moment ago.
    catalogue = await _catalogue(client, setup)
    assert set(catalogue.values()) >= DEFAULT_NAMES
    assert catalogue["elderly_care"] == "助老"
    first = await sign_up(client, "何志愿")
    await grant(client, setup.admin, setup.id, first, "resident")
    r = await _register(client, setup, first, "elderly_care")
    assert r.status_code == 201, r.text
    assert r.json()["skills"] == [{"code": "elderly_care", "level": 3}]
    # No default demands a certificate: the community decides that by editing the skill.
    r = await client.get(f"/api/v1/communities/{setup.id}/skills", headers=first.headers)
    assert all(s["requires_certificate"] is None for s in r.json())


async def test_each_community_gets_its_own_catalogue_in_the_transaction_that_creates_it(client):
    first = await community_with_staff(client, "金贸社区")
    second = await community_with_staff(client, "滨海社区")
    await client.patch(
        f"/api/v1/communities/{first.id}/skills/elderly_care", json={"name_zh": "助老服务"}, headers=first.staff.headers
    )
    assert (await _catalogue(client, first))["elderly_care"] == "助老服务"
    assert (await _catalogue(client, second))["elderly_care"] == "助老"
    # The seeding is part of the INSERT itself: a community whose creation rolls back leaves no skills behind.
    before = await db.fetchval("SELECT count(*) FROM volunteer_skills")
    try:
        async with db.unit_of_work():
            await db.execute(
                "INSERT INTO communities (id, name, timezone, street, created_at)"
                " VALUES (gen_random_uuid(), '回滚社区', 'Asia/Shanghai', '', now())"
            )
            assert await db.fetchval("SELECT count(*) FROM volunteer_skills") > before
            raise RuntimeError("abandon")
    except RuntimeError:
        pass
    assert await db.fetchval("SELECT count(*) FROM volunteer_skills") == before


async def test_staff_rename_and_remove_default_skills_but_not_one_a_volunteer_holds(client):
    setup = await community_with_staff(client, "金贸社区")
    url = f"/api/v1/communities/{setup.id}/skills"
    r = await client.patch(
        f"{url}/first_aid",
        json={"name_zh": "急救(持证)", "requires_certificate": "first_aid"},
        headers=setup.staff.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"code": "first_aid", "name_zh": "急救(持证)", "requires_certificate": "first_aid"}
    r = await client.patch(f"{url}/first_aid", json={"requires_certificate": None}, headers=setup.staff.headers)
    assert r.json() == {"code": "first_aid", "name_zh": "急救(持证)", "requires_certificate": None}

    # 助学 is not done here: staff remove it, and nobody can register it any more.
    r = await client.delete(f"{url}/tutoring", headers=setup.staff.headers)
    assert r.status_code == 204, r.text
    assert "tutoring" not in await _catalogue(client, setup)
    student = await sign_up(client, "吴同学")
    await grant(client, setup.admin, setup.id, student, "resident")
    r = await _register(client, setup, student, "tutoring")
    assert r.status_code == 422 and r.json()["code"] == "unknown_skill"
    r = await client.delete(f"{url}/tutoring", headers=setup.staff.headers)
    assert r.status_code == 404 and r.json()["code"] == "skill_not_found"

    # 助老 is held by a volunteer: it can be renamed, not removed.
    registered = await _register(client, setup, student, "elderly_care")
    assert registered.status_code == 201, registered.text
    r = await client.delete(f"{url}/elderly_care", headers=setup.staff.headers)
    assert r.status_code == 409 and r.json()["code"] == "skill_in_use"
    assert r.json()["title"] == "仍有志愿者或未结束的任务使用这项技能,不能删除(可以改名)"
    r = await client.patch(f"{url}/elderly_care", json={"name_zh": "助老服务"}, headers=setup.staff.headers)
    assert r.status_code == 200
    profile = (await client.get(f"/api/v1/volunteers/{registered.json()['id']}", headers=student.headers)).json()
    assert profile["skills"] == [{"code": "elderly_care", "level": 3}]
    assert (await _catalogue(client, setup))["elderly_care"] == "助老服务"
    actions = [
        r["action"]
        for r in await db.fetch(
            "SELECT action FROM audit_events WHERE community_id = $1 AND object_type = 'volunteer_skill'"
            " ORDER BY created_at",
            UUID(setup.id),
        )
    ]
    assert actions == ["volunteer_skill.updated"] * 2 + ["volunteer_skill.removed", "volunteer_skill.updated"]


async def test_a_skill_an_open_task_requires_is_not_removed(client):
    setup = await community_with_staff(client, "金贸社区")
    await task(client, setup, title="夜间治安巡逻", skills={"security_patrol": 1}, starts_in=timedelta(days=3))
    r = await client.delete(f"/api/v1/communities/{setup.id}/skills/security_patrol", headers=setup.staff.headers)
    assert r.status_code == 409 and r.json()["code"] == "skill_in_use"
    assert r.json()["tasks"] == 1


async def test_only_the_communitys_staff_edit_its_catalogue_and_bad_edits_change_nothing(client):
    setup = await community_with_staff(client, "金贸社区")
    other = await community_with_staff(client, "滨海社区")
    resident = await sign_up(client, "居民")
    await grant(client, setup.admin, setup.id, resident, "resident")
    url = f"/api/v1/communities/{setup.id}/skills"
    for who in (resident, other.staff):
        assert (await client.patch(f"{url}/arts", json={"name_zh": "x"}, headers=who.headers)).status_code == 403
        assert (await client.delete(f"{url}/arts", headers=who.headers)).status_code == 403
    for body in (
        {"name_zh": None},
        {"name_zh": ""},
        {"name_zh": "文" * 61},
        {"code": "art"},
        {"requires_certificate": "X"},
    ):
        r = await client.patch(f"{url}/arts", json=body, headers=setup.staff.headers)
        assert r.status_code == 422, (body, r.text)
    for code in ("juggling", "Arts", "a%00b"):
        r = await client.patch(f"{url}/{code}", json={"name_zh": "杂技"}, headers=setup.staff.headers)
        assert r.status_code == 404 and r.json()["code"] == "skill_not_found", (code, r.text)
    r = await client.delete(f"{url}/juggling", headers={**setup.staff.headers, "Accept-Language": "en"})
    assert r.status_code == 404 and r.json()["title"] == "No such skill in this catalogue"
    assert (await _catalogue(client, setup))["arts"] == "文艺"


async def test_the_backfill_gives_an_older_community_the_defaults_it_lacks_once(client):
    setup = await community_with_staff(client, "金贸社区")
    cid = UUID(setup.id)
    # A community from before the default catalogue: only its own 急救 skill, under its own code.
    await db.execute("DELETE FROM volunteer_skills WHERE community_id = $1", cid)
    await db.execute(
        "INSERT INTO volunteer_skills (id, community_id, code, name_zh, created_at)"
        " VALUES (gen_random_uuid(), $1, 'cpr', '急救', now())",
        cid,
    )
    for _ in range(2):
        await db.execute("SELECT volunteer_default_skills($1)", cid)
    catalogue = await _catalogue(client, setup)
    assert catalogue["cpr"] == "急救" and "first_aid" not in catalogue
    assert set(catalogue.values()) >= DEFAULT_NAMES
    assert list(catalogue.values()).count("急救") == 1
    assert len(catalogue) == len(set(catalogue.values()))
