"""Volunteers check in and out, coordinators approve once, the ledger only grows, stars and certificates follow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import pytest

from linli import db
from tests.api import community_with_staff, grant, sign_up
from tests.volunteers_api import (
    UNDER_WAY,
    accepted_offer,
    act,
    catalog,
    certificate_issuer,
    id_number,
    ledger_count,
    match,
    real_name,
    task,
    volunteer,
)


async def _ready(client):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    return setup


async def test_volunteer_serves_and_coordinator_approves_hours_once(client):
    setup = await _ready(client)
    he, profile = await volunteer(client, setup, "何志愿")
    t, assignment = await accepted_offer(client, setup, he)
    r = await act(client, he, assignment, "check-in")
    assert r.status_code == 200 and r.json()["status"] == "checked_in"
    r = await act(client, he, assignment, "check-out")
    assert r.status_code == 200 and r.json()["status"] == "checked_out"
    assert r.json()["recorded_minutes"] == 0
    # the coordinator corrects the record to the two hours actually served
    r = await act(client, setup.staff, assignment, "approve", {"minutes": 120})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"
    assert r.json()["approved_minutes"] == 120
    again = await act(client, setup.staff, assignment, "approve", {"minutes": 120})
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"
    assert await ledger_count(assignment) == 1
    r = await client.get(f"/api/v1/volunteers/{profile['id']}/hours", headers=he.headers)
    assert r.status_code == 200
    assert r.json()["approved_minutes"] == 120
    assert r.json()["star_level"] == 0
    # staff may look, other residents may not
    assert (
        await client.get(f"/api/v1/volunteers/{profile['id']}/hours", headers=setup.staff.headers)
    ).status_code == 200
    stranger = await sign_up(client, "邻居")
    assert (await client.get(f"/api/v1/volunteers/{profile['id']}/hours", headers=stranger.headers)).status_code == 404
    assert t


async def test_approval_without_minutes_uses_the_check_in_and_out_record(client):
    from volunteers.services import hours

    setup = await _ready(client)
    he, _ = await volunteer(client, setup, "何志愿")
    _, assignment = await accepted_offer(client, setup, he)
    await act(client, he, assignment, "check-in")
    # pretend the service lasted 95 minutes
    await db.execute(
        "UPDATE volunteer_assignments SET checked_in_at = now() - interval '95 minutes' WHERE id = $1",
        UUID(assignment),
    )
    await act(client, he, assignment, "check-out")
    r = await act(client, setup.staff, assignment, "approve")
    assert r.status_code == 200, r.text
    assert r.json()["approved_minutes"] == 95
    assert hours  # service module used by other tests


async def test_a_volunteer_cannot_approve_their_own_hours_even_as_staff(client):
    setup = await _ready(client)
    # the staff member volunteers on their own task
    staff_profile = (await volunteer(client, setup, person=setup.staff))[1]
    t = await task(client, setup)
    offers = await match(client, setup, t["id"])
    assert offers[0]["volunteer_id"] == staff_profile["id"]
    assignment = offers[0]["id"]
    for action in ("accept", "check-in", "check-out"):
        assert (await act(client, setup.staff, assignment, action)).status_code == 200
    r = await act(client, setup.staff, assignment, "approve", {"minutes": 600})
    assert r.status_code == 403
    assert r.json()["code"] == "self_approval"
    assert await ledger_count(assignment) == 0
    # a resident who is not a coordinator cannot approve either
    resident = await sign_up(client, "居民")
    await grant(client, setup.admin, setup.id, resident, "resident")
    r = await act(client, resident, assignment, "approve", {"minutes": 60})
    assert r.status_code == 403
    # the community admin can
    r = await act(client, setup.admin, assignment, "approve", {"minutes": 60})
    assert r.status_code == 200


async def test_lifecycle_steps_out_of_order_are_conflicts(client):
    setup = await _ready(client)
    he, _ = await volunteer(client, setup, "何志愿")
    t = await task(client, setup)
    offer = (await match(client, setup, t["id"]))[0]["id"]
    r = await act(client, he, offer, "check-in")
    assert r.status_code == 409 and r.json()["code"] == "invalid_transition"
    r = await act(client, setup.staff, offer, "approve")
    assert r.status_code == 409
    await act(client, he, offer, "accept")
    r = await act(client, he, offer, "check-out")
    assert r.status_code == 409
    r = await act(client, he, offer, "decline")
    assert r.status_code == 409


async def test_check_in_too_early_is_refused(client):
    setup = await _ready(client)
    he, _ = await volunteer(client, setup, "何志愿")
    _, assignment = await accepted_offer(client, setup, he, starts_in=timedelta(hours=5))
    r = await act(client, he, assignment, "check-in")
    assert r.status_code == 409
    assert r.json()["code"] == "check_in_too_early"


async def test_one_time_code_shown_by_the_coordinator_is_required_once_issued(client):
    setup = await _ready(client)
    he, _ = await volunteer(client, setup, "何志愿")
    t, assignment = await accepted_offer(client, setup, he)
    r = await client.post(f"/api/v1/tasks/{t['id']}/check-in-code", headers=he.headers)
    assert r.status_code == 403
    r = await client.post(f"/api/v1/tasks/{t['id']}/check-in-code", headers=setup.staff.headers)
    assert r.status_code == 200
    code = r.json()["code"]
    assert len(code) == 6
    r = await act(client, he, assignment, "check-in")
    assert r.status_code == 422 and r.json()["code"] == "check_in_code_invalid"
    wrong = "000000" if code != "000000" else "111111"
    r = await act(client, he, assignment, "check-in", {"code": wrong})
    assert r.status_code == 422
    r = await act(client, he, assignment, "check-in", {"code": code})
    assert r.status_code == 200
    assert r.json()["status"] == "checked_in"


async def test_forgotten_check_out_is_closed_by_the_worker_and_needs_review(client):
    from volunteers.services import hours

    setup = await _ready(client)
    he, _ = await volunteer(client, setup, "何志愿")
    t, assignment = await accepted_offer(client, setup, he)
    await act(client, he, assignment, "check-in")
    async with db.unit_of_work():
        assert await hours.auto_check_out(now=datetime.now(UTC)) == 0  # task not over yet
    async with db.unit_of_work():
        assert await hours.auto_check_out(now=datetime.now(UTC) + timedelta(hours=5)) == 1
    row = await db.fetchrow("SELECT * FROM volunteer_assignments WHERE id = $1", UUID(assignment))
    assert row is not None
    assert row["status"] == "checked_out"
    assert row["auto_checked_out"] and row["needs_review"]
    assert row["checked_out_at"] == datetime.fromisoformat(t["ends_at"])
    r = await act(client, setup.staff, assignment, "approve")
    assert r.status_code == 409
    assert r.json()["code"] == "review_required"
    r = await act(client, setup.staff, assignment, "approve", {"minutes": 110})
    assert r.status_code == 200
    assert r.json()["needs_review"] is False
    assert r.json()["approved_minutes"] == 110


async def _approved(client, setup, person, minutes, **task_kw):
    _, assignment = await accepted_offer(client, setup, person, **{"starts_in": UNDER_WAY, **task_kw})
    await act(client, person, assignment, "check-in")
    await act(client, person, assignment, "check-out")
    r = await act(client, setup.staff, assignment, "approve", {"minutes": minutes})
    assert r.status_code == 200, r.text
    return assignment


async def test_hours_ledger_is_append_only_and_corrections_are_new_entries(client):
    setup = await _ready(client)
    he, profile = await volunteer(client, setup, "何志愿")
    assignment = await _approved(client, setup, he, 120)
    r = await client.post(
        f"/api/v1/assignments/{assignment}/hours-corrections",
        json={"minutes_delta": -30, "reason": "提前离开半小时"},
        headers=setup.staff.headers,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/api/v1/assignments/{assignment}/hours-corrections",
        json={"minutes_delta": 30, "reason": "自己改"},
        headers=he.headers,
    )
    assert r.status_code == 403
    ledger = (await client.get(f"/api/v1/volunteers/{profile['id']}/hours/ledger", headers=he.headers)).json()
    assert [(e["kind"], e["minutes"]) for e in ledger] == [("approval", 120), ("correction", -30)]
    hours = (await client.get(f"/api/v1/volunteers/{profile['id']}/hours", headers=he.headers)).json()
    assert hours["approved_minutes"] == 90
    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        await db.execute("UPDATE volunteer_hours_entries SET minutes = 9999")
    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        await db.execute("DELETE FROM volunteer_hours_entries")
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.execute(
            "INSERT INTO volunteer_hours_entries (id, community_id, volunteer_id, assignment_id, task_id, kind,"
            " minutes, period, memo, created_by, created_at) SELECT gen_random_uuid(), community_id, volunteer_id,"
            " assignment_id, task_id, 'approval', 60, period, '', created_by, now() FROM volunteer_hours_entries"
            " WHERE kind = 'approval'"
        )
    assert await db.fetchval("SELECT sum(minutes) FROM volunteer_hours_entries") == 90


async def test_totals_per_volunteer_team_and_month(client):
    setup = await _ready(client)
    he, he_profile = await volunteer(client, setup, "何志愿")
    zheng, zheng_profile = await volunteer(client, setup, "郑晓燕", skills={"haircut": 3})
    r = await client.post(
        "/api/v1/teams", json={"community_id": setup.id, "name": "党员志愿服务队"}, headers=he.headers
    )
    team = r.json()
    await _approved(client, setup, he, 60)
    # a team task
    t = await task(client, setup, title="义剪", skills={"haircut": 2})
    await client.post(
        f"/api/v1/teams/{team['id']}/members", json={"volunteer_id": zheng_profile["id"]}, headers=he.headers
    )
    offer = (
        await client.post(
            f"/api/v1/tasks/{t['id']}/team-offers", json={"team_id": team["id"]}, headers=setup.staff.headers
        )
    ).json()
    accepted = await client.post(
        f"/api/v1/team-offers/{offer['id']}/accept", json={"volunteer_ids": [zheng_profile["id"]]}, headers=he.headers
    )
    zheng_assignment = accepted.json()[0]["id"]
    await act(client, zheng, zheng_assignment, "check-in")
    await act(client, zheng, zheng_assignment, "check-out")
    assert (await act(client, setup.staff, zheng_assignment, "approve", {"minutes": 45})).status_code == 200
    month = datetime.fromisoformat(t["starts_at"]).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
    period = f"{month:%Y-%m}"
    team_hours = (await client.get(f"/api/v1/teams/{team['id']}/hours", headers=he.headers)).json()
    assert team_hours["approved_minutes"] == 45
    r = await client.get(f"/api/v1/communities/{setup.id}/volunteer-hours?period={period}", headers=setup.staff.headers)
    rows = {row["volunteer_id"]: row["approved_minutes"] for row in r.json()}
    assert rows == {he_profile["id"]: 60, zheng_profile["id"]: 45}
    he_hours = (await client.get(f"/api/v1/volunteers/{he_profile['id']}/hours", headers=he.headers)).json()
    assert sum(he_hours["by_month"].values()) == 60


async def test_star_levels_follow_configurable_thresholds(client):
    setup = await _ready(client)
    he, profile = await volunteer(client, setup, "何志愿")
    await _approved(client, setup, he, 180)
    hours = (await client.get(f"/api/v1/volunteers/{profile['id']}/hours", headers=he.headers)).json()
    assert hours["star_level"] == 0
    assert hours["next_star_minutes"] == 100 * 60
    r = await client.put(
        f"/api/v1/communities/{setup.id}/volunteer-settings",
        json={"star_thresholds_hours": [1, 3, 6, 10, 15]},
        headers=setup.staff.headers,
    )
    assert r.status_code == 403  # only the community admin configures
    r = await client.put(
        f"/api/v1/communities/{setup.id}/volunteer-settings",
        json={"star_thresholds_hours": [1, 3, 6, 10, 15]},
        headers=setup.admin.headers,
    )
    assert r.status_code == 200, r.text
    hours = (await client.get(f"/api/v1/volunteers/{profile['id']}/hours", headers=he.headers)).json()
    assert hours["star_level"] == 2
    assert hours["next_star_minutes"] == 6 * 60
    for nonsense in ([5, 3, 6, 10, 15], [1, 3, 6, 10, 2**31], [1, 3, 6, 10, 100_001]):
        r = await client.put(
            f"/api/v1/communities/{setup.id}/volunteer-settings",
            json={"star_thresholds_hours": nonsense},
            headers=setup.admin.headers,
        )
        assert r.status_code == 422, (nonsense, r.text)
        assert r.json()["code"] == "validation_error"
    hours = (await client.get(f"/api/v1/volunteers/{profile['id']}/hours", headers=he.headers)).json()
    assert hours["star_level"] == 2


async def test_numbered_certificate_pdf_and_calendar_feed(client):
    setup = await _ready(client)
    he, profile = await volunteer(client, setup, "何志愿")
    await _approved(client, setup, he, 150, title="爱心食堂午餐配送")
    await real_name(client, he, profile, "何志愿", id_number())
    await certificate_issuer(client, setup)
    r = await client.post(f"/api/v1/volunteers/{profile['id']}/service-certificates", headers=he.headers)
    assert r.status_code == 403
    first = await client.post(f"/api/v1/volunteers/{profile['id']}/service-certificates", headers=setup.staff.headers)
    second = await client.post(f"/api/v1/volunteers/{profile['id']}/service-certificates", headers=setup.staff.headers)
    assert first.status_code == 201
    assert first.json()["serial_no"] != second.json()["serial_no"]
    assert first.json()["approved_minutes"] == 150
    r = await client.get(f"/api/v1/service-certificates/{first.json()['id']}/pdf", headers=he.headers)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")
    assert b"NotoSansCJK" in r.content  # the CJK font is embedded
    stranger = await sign_up(client, "路人")
    r = await client.get(f"/api/v1/service-certificates/{first.json()['id']}/pdf", headers=stranger.headers)
    assert r.status_code == 404
    r = await client.get(f"/api/v1/volunteers/{profile['id']}/calendar.ics", headers=he.headers)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/calendar")
    assert "BEGIN:VEVENT" in r.text and "爱心食堂午餐配送" in r.text


async def test_no_show_counts_against_reliability(client):
    setup = await _ready(client)
    he, _ = await volunteer(client, setup, "何志愿")
    _, assignment = await accepted_offer(client, setup, he, starts_in=timedelta(minutes=-10))
    r = await act(client, he, assignment, "no-show")
    assert r.status_code in (403, 404)
    r = await act(client, setup.staff, assignment, "no-show")
    assert r.status_code == 200
    assert r.json()["status"] == "no_show"
