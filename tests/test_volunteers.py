"""Volunteers register, tasks are published and matched, offers pass on, and only the right people act."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from linli import db
from tests.api import community_with_staff, grant, sign_up
from tests.volunteers_api import ALL_WEEK, act, at, catalog, match, task, volunteer


async def _count(table: str) -> int:
    return int(await db.fetchval(f"SELECT count(*) FROM {table}"))


async def test_resident_registers_as_volunteer_with_skills_availability_and_dialects(client):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    person, profile = await volunteer(
        client,
        setup,
        "何志愿",
        skills={"meal_delivery": 4, "first_aid": 2},
        availability=[
            {"weekday": 1, "start": "08:30", "end": "12:00"},
            {"weekday": 6, "start": "14:00", "end": "24:00"},
        ],
        certificates=[{"kind": "first_aid", "expires_on": "2027-06-30"}],
        days_off=["2026-12-25"],
        weekly_cap_minutes=600,
        languages=["海南话", "粤语"],
        tags=["双报到"],
    )
    assert profile["user_id"] == person.id
    assert {s["code"]: s["level"] for s in profile["skills"]} == {"meal_delivery": 4, "first_aid": 2}
    assert profile["availability"][0] == {"weekday": 1, "start": "08:30", "end": "12:00"}
    assert profile["availability"][1]["end"] == "24:00"
    assert profile["languages"] == ["海南话", "粤语"]
    assert profile["certificates"] == [{"kind": "first_aid", "expires_on": "2027-06-30"}]
    # a second profile in the same community is refused
    r = await client.post(
        "/api/v1/volunteers", json={"community_id": setup.id, "skills": [], "availability": []}, headers=person.headers
    )
    assert r.status_code == 409
    assert r.json()["code"] == "volunteer_exists"


async def test_staff_find_volunteers_by_skill_or_tag_and_unstorable_filters_are_422(client):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    _, he = await volunteer(client, setup, "何志愿", skills={"first_aid": 2}, tags=["双报到"])
    await volunteer(client, setup, "郑晓燕", skills={"haircut": 3})
    url = f"/api/v1/communities/{setup.id}/volunteers"
    for params in ({"skill": "first_aid"}, {"tag": "双报到"}):
        r = await client.get(url, params=params, headers=setup.staff.headers)
        assert r.status_code == 200, r.text
        assert [v["id"] for v in r.json()] == [he["id"]]
    for params in ({"skill": "first_aid\x00"}, {"tag": "双报到\x00"}, {"tag": "标" * 31}):
        r = await client.get(url, params=params, headers=setup.staff.headers)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["code"] == "validation_error"


async def test_bad_profile_input_is_a_problem_and_writes_nothing(client):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    person = await sign_up(client, "新志愿者")
    good = {"community_id": setup.id, "skills": [{"code": "haircut", "level": 3}], "availability": ALL_WEEK[:1]}
    bad_bodies = [
        ({**good, "skills": [{"code": "juggling", "level": 3}]}, 422, "unknown_skill"),
        ({**good, "skills": [{"code": "haircut", "level": 0}]}, 422, "validation_error"),
        ({**good, "skills": [{"code": "haircut", "level": 9}]}, 422, "validation_error"),
        ({**good, "availability": [{"weekday": 1, "start": "12:00", "end": "09:00"}]}, 422, "validation_error"),
        ({**good, "availability": [{"weekday": 8, "start": "09:00", "end": "12:00"}]}, 422, "validation_error"),
        ({**good, "availability": [{"weekday": 1, "start": "9h", "end": "12:00"}]}, 422, "validation_error"),
        ({**good, "tags": ["双报到\u0000"]}, 422, "validation_error"),
        ({**good, "home_grid_id": str(UUID(int=3))}, 404, "grid_not_found"),
        ({**good, "community_id": str(UUID(int=4))}, 404, "community_not_found"),
    ]
    for body, status, code in bad_bodies:
        r = await client.post("/api/v1/volunteers", json=body, headers=person.headers)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == code
    assert await _count("volunteer_profiles") == 0
    assert await _count("volunteer_profile_skills") == 0
    assert await _count("volunteer_availability") == 0


async def test_bad_task_input_is_a_problem_and_writes_nothing(client):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    good = {
        "community_id": setup.id,
        "title": "食堂帮厨",
        "required_skills": [{"code": "meal_delivery", "min_level": 2}],
        "volunteers_needed": 2,
        "starts_at": at(timedelta(hours=2)),
        "ends_at": at(timedelta(hours=4)),
    }
    bad_bodies = [
        ({**good, "volunteers_needed": 0}, "validation_error"),
        ({**good, "ends_at": at(timedelta(hours=1))}, "validation_error"),
        ({**good, "ends_at": good["starts_at"]}, "validation_error"),
        ({**good, "required_skills": [{"code": "juggling", "min_level": 1}]}, "unknown_skill"),
        ({**good, "required_skills": [{"code": "meal_delivery", "min_level": 0}]}, "validation_error"),
        ({**good, "required_skills": [{"code": "meal_delivery", "min_level": 9}]}, "validation_error"),
        ({**good, "starts_at": "2026-12-01T09:00:00"}, "validation_error"),  # no time zone
        ({**good, "title": ""}, "validation_error"),
        ({**good, "title": "食堂帮厨\u0000"}, "validation_error"),
        ({**good, "required_certificates": ["first_aid\u0000"]}, "validation_error"),
        (
            {**good, "starts_at": at(timedelta(days=400)), "ends_at": at(timedelta(days=400, hours=2))},
            "task_times_invalid",
        ),
        (
            {**good, "starts_at": at(-timedelta(days=400)), "ends_at": at(-timedelta(days=400, hours=-2))},
            "task_times_invalid",
        ),
        # At the calendar's edges: in UTC these fall outside Python's and PostgreSQL's years 1-9999.
        (
            {**good, "starts_at": "9999-12-31T22:00:00-14:00", "ends_at": "9999-12-31T23:00:00-14:00"},
            "task_times_invalid",
        ),
        (
            {**good, "starts_at": "0001-01-01T00:00:00+14:00", "ends_at": "0001-01-01T01:00:00+14:00"},
            "task_times_invalid",
        ),
        (
            {
                **good,
                "starts_at": "9999-12-01T01:00:00+00:00",
                "ends_at": "9999-12-01T03:00:00+00:00",
                "recurrence": {"weekly_count": 52},
            },
            "task_times_invalid",
        ),
    ]
    for body, code in bad_bodies:
        r = await client.post("/api/v1/tasks", json=body, headers=setup.staff.headers)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == code
    r = await client.post("/api/v1/tasks", content="not json", headers=setup.staff.headers)
    assert 400 <= r.status_code < 500
    assert await _count("volunteer_tasks") == 0


async def test_a_task_dated_at_the_end_of_the_calendar_is_refused_and_matching_keeps_working(client):
    """Year 9999 once went in, and from then on every match in the community failed on the dates around it."""
    setup = await community_with_staff(client)
    await catalog(client, setup)
    await volunteer(client, setup, "何志愿")
    upcoming = await task(client, setup)
    far = {
        "community_id": setup.id,
        "title": "跨年守夜",
        "volunteers_needed": 1,
        "starts_at": "9999-12-31T20:00:00+00:00",
        "ends_at": "9999-12-31T22:00:00+00:00",
    }
    r = await client.post("/api/v1/tasks", json=far, headers=setup.staff.headers)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "task_times_invalid"
    assert len(await match(client, setup, upcoming["id"])) == 1
    r = await client.post(f"/api/v1/communities/{setup.id}/tasks/assign", headers=setup.staff.headers)
    assert r.status_code == 200, r.text
    assert await _count("volunteer_tasks") == 1


async def test_only_community_staff_or_a_partner_admin_publishes_tasks(client):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    resident = await sign_up(client, "居民")
    await grant(client, setup.admin, setup.id, resident, "resident")
    body = {
        "community_id": setup.id,
        "title": "食堂帮厨",
        "volunteers_needed": 2,
        "starts_at": at(timedelta(hours=2)),
        "ends_at": at(timedelta(hours=4)),
    }
    r = await client.post("/api/v1/tasks", json=body, headers=resident.headers)
    assert r.status_code == 403
    # the canteen owner administers an approved partner of this community
    owner = await sign_up(client, "黄老板")
    partner_id = await db.fetchval(
        "INSERT INTO partners (id, community_id, name, kind, status, created_by, created_at, updated_at)"
        " VALUES (gen_random_uuid(), $1, '爱心食堂', 'canteen', 'approved', $2, now(), now()) RETURNING id",
        UUID(setup.id),
        UUID(owner.id),
    )
    await db.execute(
        "INSERT INTO partner_members (id, partner_id, community_id, user_id, role, created_at)"
        " VALUES (gen_random_uuid(), $1, $2, $3, 'admin', now())",
        partner_id,
        UUID(setup.id),
        UUID(owner.id),
    )
    r = await client.post("/api/v1/tasks", json=body, headers=owner.headers)
    assert r.status_code == 201, r.text
    assert r.json()["partner_id"] == str(partner_id)
    # …but not in another community
    other = await community_with_staff(client, "海甸社区")
    r = await client.post("/api/v1/tasks", json={**body, "community_id": other.id}, headers=owner.headers)
    assert r.status_code == 403


async def test_matching_offers_only_eligible_volunteers_one_broken_rule_each(client):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    starts = datetime.now(UTC) + timedelta(days=2)
    local_weekday = (starts + timedelta(hours=8)).isoweekday()  # Asia/Shanghai
    other_day = local_weekday % 7 + 1
    cert = [{"kind": "first_aid", "expires_on": str(date.today() + timedelta(days=365))}]
    ok_person, ok = await volunteer(client, setup, "合格", certificates=cert)
    _, low = await volunteer(client, setup, "技能不足", skills={"meal_delivery": 1}, certificates=cert)
    _, away = await volunteer(
        client,
        setup,
        "没空",
        availability=[{"weekday": other_day, "start": "00:00", "end": "24:00"}],
        certificates=cert,
    )
    busy_person, busy = await volunteer(client, setup, "已有任务", certificates=cert)
    _, expired = await volunteer(
        client,
        setup,
        "证书过期",
        certificates=[{"kind": "first_aid", "expires_on": str(date.today() - timedelta(days=1))}],
    )
    _, capped = await volunteer(client, setup, "超时", certificates=cert, weekly_cap_minutes=60)
    # "busy" already holds an overlapping task
    other = await task(client, setup, starts_in=starts - datetime.now(UTC) + timedelta(minutes=30), title="别的任务")
    only_busy = await db.execute(
        "INSERT INTO volunteer_assignments (id, task_id, community_id, volunteer_id, status, score, reasons,"
        " offered_at) VALUES (gen_random_uuid(), $1, $2, $3, 'accepted', 1, '[]', now())",
        UUID(other["id"]),
        UUID(setup.id),
        UUID(busy["id"]),
    )
    assert only_busy.endswith("1")
    t = await task(
        client,
        setup,
        needed=6,
        starts_in=starts - datetime.now(UTC),
        required_certificates=["first_aid"],
    )
    offers = await match(client, setup, t["id"])
    assert [o["volunteer_id"] for o in offers] == [ok["id"]]
    assert {r["factor"] for r in offers[0]["reasons"]} >= {"proximity", "fairness", "reliability"}
    assert offers[0]["score"] == sum(r["points"] for r in offers[0]["reasons"])
    for excluded in (low, away, busy, expired, capped):
        assert excluded["id"] not in {o["volunteer_id"] for o in offers}
    assert ok_person and busy_person


async def test_a_decline_passes_the_place_to_the_next_candidate(client):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    first, first_profile = await volunteer(client, setup, "何志愿", skills={"meal_delivery": 5})
    second, second_profile = await volunteer(client, setup, "郑晓燕", skills={"meal_delivery": 3})
    await db.execute("UPDATE volunteer_profiles SET home_grid_id = NULL WHERE id = $1", UUID(second_profile["id"]))
    t = await task(client, setup)
    offers = await match(client, setup, t["id"])
    assert len(offers) == 1
    offered_to = offers[0]["volunteer_id"]
    person = first if offered_to == first_profile["id"] else second
    r = await act(client, person, offers[0]["id"], "decline")
    assert r.status_code == 200
    assert r.json()["status"] == "declined"
    rows = await db.fetch(
        "SELECT volunteer_id, status FROM volunteer_assignments WHERE task_id = $1 ORDER BY offered_at", UUID(t["id"])
    )
    statuses = {str(r["volunteer_id"]): r["status"] for r in rows}
    next_one = second_profile["id"] if offered_to == first_profile["id"] else first_profile["id"]
    assert statuses == {offered_to: "declined", next_one: "offered"}
    # declining again changes nothing; accepting a declined offer is a conflict
    assert (await act(client, person, offers[0]["id"], "decline")).status_code == 200
    r = await act(client, person, offers[0]["id"], "accept")
    assert r.status_code == 409
    assert r.json()["code"] == "invalid_transition"


async def test_a_volunteer_cannot_act_on_someone_elses_offer(client):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    he, _ = await volunteer(client, setup, "何志愿")
    t = await task(client, setup)
    offers = await match(client, setup, t["id"])
    intruder = await sign_up(client, "路人")
    await volunteer(client, setup, "路人", person=intruder, skills={"haircut": 2})
    for action in ("accept", "decline", "check-in", "check-out"):
        r = await act(client, intruder, offers[0]["id"], action)
        assert r.status_code == 404, action
        assert r.json()["code"] == "assignment_not_found"
    assert await db.fetchval("SELECT status FROM volunteer_assignments WHERE id = $1", UUID(offers[0]["id"])) == (
        "offered"
    )
    assert he


async def test_task_fills_up_and_remaining_offers_are_withdrawn(client):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    people = [await volunteer(client, setup, f"志愿者{i}") for i in range(3)]
    t = await task(client, setup, needed=1, urgent=True)
    offers = await match(client, setup, t["id"])
    assert len(offers) == 3  # urgent: several asked at once, the first to accept takes it
    by_volunteer = {p[1]["id"]: p[0] for p in people}
    first = offers[0]
    r = await act(client, by_volunteer[first["volunteer_id"]], first["id"], "accept")
    assert r.status_code == 200
    for other in offers[1:]:
        r = await act(client, by_volunteer[other["volunteer_id"]], other["id"], "accept")
        assert r.status_code == 409
        assert r.json()["code"] == "task_full"
    statuses = sorted(
        r["status"]
        for r in await db.fetch("SELECT status FROM volunteer_assignments WHERE task_id = $1", UUID(t["id"]))
    )
    assert statuses == ["accepted", "withdrawn", "withdrawn"]
    r = await client.get(f"/api/v1/tasks/{t['id']}", headers=setup.staff.headers)
    assert r.json()["status"] == "full"
    assert r.json()["accepted"] == 1


async def test_an_unanswered_offer_expires_and_passes_on(client):
    from volunteers.services import offers as offer_service

    setup = await community_with_staff(client)
    await catalog(client, setup)
    await volunteer(client, setup, "甲", skills={"meal_delivery": 5})
    await volunteer(client, setup, "乙", skills={"meal_delivery": 5})
    t = await task(client, setup, offer_window_minutes=10)
    first = (await match(client, setup, t["id"]))[0]
    assert await offer_service.expire_offers(now=datetime.now(UTC) + timedelta(minutes=5)) == 0
    assert await offer_service.expire_offers(now=datetime.now(UTC) + timedelta(minutes=11)) == 1
    # running the job again changes nothing
    assert await offer_service.expire_offers(now=datetime.now(UTC) + timedelta(minutes=11)) == 0
    rows = await db.fetch("SELECT id, status FROM volunteer_assignments WHERE task_id = $1", UUID(t["id"]))
    assert {str(r["id"]): r["status"] for r in rows}[first["id"]] == "expired"
    assert sorted(r["status"] for r in rows) == ["expired", "offered"]


async def test_teams_leader_accepts_and_names_members(client):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    leader, leader_profile = await volunteer(client, setup, "队长")
    member, member_profile = await volunteer(client, setup, "队员")
    outsider, outsider_profile = await volunteer(client, setup, "外人")
    r = await client.post(
        "/api/v1/teams", json={"community_id": setup.id, "name": "党员志愿服务队"}, headers=leader.headers
    )
    assert r.status_code == 201, r.text
    team = r.json()
    r = await client.post(
        f"/api/v1/teams/{team['id']}/members", json={"volunteer_id": member_profile["id"]}, headers=member.headers
    )
    assert r.status_code in (403, 404)
    r = await client.post(
        f"/api/v1/teams/{team['id']}/members", json={"volunteer_id": member_profile["id"]}, headers=leader.headers
    )
    assert r.status_code == 201
    assert set(r.json()["member_volunteer_ids"]) == {leader_profile["id"], member_profile["id"]}
    t = await task(client, setup, needed=2)
    r = await client.post(
        f"/api/v1/tasks/{t['id']}/team-offers", json={"team_id": team["id"]}, headers=setup.staff.headers
    )
    assert r.status_code == 201
    offer = r.json()
    # only the leader answers; only members can be named
    r = await client.post(
        f"/api/v1/team-offers/{offer['id']}/accept",
        json={"volunteer_ids": [member_profile["id"]]},
        headers=member.headers,
    )
    assert r.status_code == 404
    r = await client.post(
        f"/api/v1/team-offers/{offer['id']}/accept",
        json={"volunteer_ids": [outsider_profile["id"]]},
        headers=leader.headers,
    )
    assert r.status_code == 409
    assert r.json()["code"] == "not_team_member"
    r = await client.post(
        f"/api/v1/team-offers/{offer['id']}/accept",
        json={"volunteer_ids": [leader_profile["id"], member_profile["id"]]},
        headers=leader.headers,
    )
    assert r.status_code == 200, r.text
    assert {a["status"] for a in r.json()} == {"accepted"}
    assert {a["team_id"] for a in r.json()} == {team["id"]}
    r = await client.get(f"/api/v1/tasks/{t['id']}", headers=setup.staff.headers)
    assert r.json()["status"] == "full"
    assert outsider


async def test_recurring_task_creates_weekly_occurrences(client):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    t = await task(client, setup, recurrence={"weekly_count": 4})
    assert len(t["series_task_ids"]) == 4
    rows = await db.fetch(
        "SELECT starts_at FROM volunteer_tasks WHERE series_id = $1 ORDER BY starts_at", UUID(t["series_id"])
    )
    gaps = {(b["starts_at"] - a["starts_at"]) for a, b in itertools.pairwise(rows)}
    assert gaps == {timedelta(weeks=1)}


async def test_batch_assignment_offers_each_open_place_without_double_booking(client):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    volunteers = [
        await volunteer(client, setup, f"志愿者{i}", skills={"meal_delivery": 3, "haircut": i % 2 + 1})
        for i in range(4)
    ]
    a = await task(client, setup, needed=2, starts_in=timedelta(hours=3), title="早餐")
    b = await task(client, setup, needed=1, starts_in=timedelta(hours=4), skills={"haircut": 2}, title="理发")
    c = await task(client, setup, needed=2, starts_in=timedelta(hours=10), title="晚餐")
    r = await client.post(f"/api/v1/communities/{setup.id}/tasks/assign", headers=setup.staff.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["tasks"] == 3
    offers = body["offers"]
    per_task: dict[str, list[str]] = {}
    for o in offers:
        per_task.setdefault(o["task_id"], []).append(o["volunteer_id"])
    assert len(per_task[a["id"]]) == 2 and len(per_task[b["id"]]) == 1 and len(per_task[c["id"]]) == 2
    # a and b overlap: nobody is offered both
    assert not set(per_task[a["id"]]) & set(per_task[b["id"]])
    haircut_ok = {p["id"] for _, p in volunteers if {s["code"]: s["level"] for s in p["skills"]}["haircut"] >= 2}
    assert set(per_task[b["id"]]) <= haircut_ok
    assert body["total_score"] == sum(o["score"] for o in offers)
    # residents may not run it
    r = await client.post(f"/api/v1/communities/{setup.id}/tasks/assign", headers=volunteers[0][0].headers)
    assert r.status_code == 403


async def test_other_communities_cannot_see_or_match_a_task(client):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    other = await community_with_staff(client, "海甸社区")
    t = await task(client, setup)
    r = await client.post(f"/api/v1/tasks/{t['id']}/match", headers=other.staff.headers)
    assert r.status_code == 404
    r = await client.get(f"/api/v1/tasks/{t['id']}", headers=other.staff.headers)
    assert r.status_code == 404


async def test_the_periodic_sweep_expires_offers_and_closes_forgotten_check_outs(client):
    from volunteers import tasks as actors
    from workers.schedules import SCHEDULES

    assert any(s.actor_name == "volunteers.sweep" for s in SCHEDULES)
    setup = await community_with_staff(client)
    await catalog(client, setup)
    await volunteer(client, setup, "甲")
    await volunteer(client, setup, "乙")
    t = await task(client, setup)
    first = (await match(client, setup, t["id"]))[0]
    await db.execute(
        "UPDATE volunteer_assignments SET expires_at = now() - interval '1 minute' WHERE id = $1", UUID(first["id"])
    )
    await actors.sweep("slot-1")
    await actors.sweep("slot-1")  # delivered twice: nothing more happens
    rows = await db.fetch("SELECT id, status FROM volunteer_assignments WHERE task_id = $1", UUID(t["id"]))
    assert {str(r["id"]): r["status"] for r in rows}[first["id"]] == "expired"
    assert sorted(r["status"] for r in rows) == ["expired", "offered"]


async def test_a_retried_task_creation_with_the_same_idempotency_key_creates_one_task(client):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    body = {
        "community_id": setup.id,
        "title": "食堂帮厨",
        "volunteers_needed": 2,
        "starts_at": at(timedelta(hours=2)),
        "ends_at": at(timedelta(hours=4)),
    }
    headers = {**setup.staff.headers, "Idempotency-Key": "task-123"}
    first = await client.post("/api/v1/tasks", json=body, headers=headers)
    again = await client.post("/api/v1/tasks", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert await _count("volunteer_tasks") == 1


async def test_volunteer_updates_their_own_profile_and_nobody_else_can(client):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    he, profile = await volunteer(client, setup, "何志愿")
    update = {
        "skills": [{"code": "haircut", "level": 5}],
        "availability": [{"weekday": 3, "start": "18:00", "end": "21:00"}],
        "days_off": ["2026-12-31"],
        "weekly_cap_minutes": 240,
        "languages": ["闽南语"],
    }
    r = await client.put(f"/api/v1/volunteers/{profile['id']}", json=update, headers=he.headers)
    assert r.status_code == 200, r.text
    assert r.json()["skills"] == [{"code": "haircut", "level": 5}]
    assert r.json()["availability"] == [{"weekday": 3, "start": "18:00", "end": "21:00"}]
    assert r.json()["weekly_cap_minutes"] == 240
    other = await sign_up(client, "别人")
    r = await client.put(f"/api/v1/volunteers/{profile['id']}", json=update, headers=other.headers)
    assert r.status_code == 404
    r = await client.put(
        f"/api/v1/volunteers/{profile['id']}",
        json={**update, "skills": [{"code": "haircut", "level": 6}]},
        headers=he.headers,
    )
    assert r.status_code == 422
    r = await client.get(f"/api/v1/volunteers/{profile['id']}", headers=he.headers)
    assert r.json()["skills"] == [{"code": "haircut", "level": 5}]


async def test_a_volunteer_who_cannot_come_gives_the_place_back_and_it_passes_on(client):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    people = {}
    for name in ("甲", "乙"):
        person, profile = await volunteer(client, setup, name)
        people[profile["id"]] = person
    t = await task(client, setup)
    offer = (await match(client, setup, t["id"]))[0]
    holder = people[offer["volunteer_id"]]
    assert (await act(client, holder, offer["id"], "accept")).status_code == 200
    assert (await client.get(f"/api/v1/tasks/{t['id']}", headers=setup.staff.headers)).json()["status"] == "full"
    r = await act(client, holder, offer["id"], "cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert (await client.get(f"/api/v1/tasks/{t['id']}", headers=setup.staff.headers)).json()["status"] == "open"
    rows = await db.fetch("SELECT volunteer_id, status FROM volunteer_assignments WHERE task_id = $1", UUID(t["id"]))
    assert sorted(r["status"] for r in rows) == ["cancelled", "offered"]
    r = await act(client, holder, offer["id"], "check-in")
    assert r.status_code == 409


async def test_a_task_names_only_its_own_communitys_people_as_coordinator(client):
    # Found by the chaos BOLA matrix: staff could name another community's staff member as a task's coordinator,
    # who could then approve its hours. A coordinator is the community's own (any role) or the task's partner's.
    setup = await community_with_staff(client, "光阳社区")
    elsewhere = await community_with_staff(client, "白龙社区")
    await catalog(client, setup)
    r = await client.post(
        "/api/v1/tasks",
        json={
            "community_id": setup.id,
            "title": "助餐配送",
            "volunteers_needed": 1,
            "starts_at": at(timedelta(hours=1)),
            "ends_at": at(timedelta(hours=3)),
            "coordinator_user_id": elsewhere.staff.id,
        },
        headers=setup.staff.headers,
    )
    assert r.status_code == 404, r.text
    assert r.json()["code"] == "coordinator_not_found"
    assert await db.fetchval("SELECT count(*) FROM volunteer_tasks") == 0
    own = await task(client, setup, coordinator_user_id=setup.admin.id)
    assert own["coordinator_user_id"] == setup.admin.id
