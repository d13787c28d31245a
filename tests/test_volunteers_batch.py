"""Staff assign a week's tasks in one batch: the offers follow the same rules as one task's matching — a skill's
certificate, a declined offer, the weekly cap shared by the tasks of the batch."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from linli import db
from tests.api import community_with_staff
from tests.volunteers_api import act, at, catalog, match, task, volunteer

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _until_next_wednesday(hour: int) -> timedelta:
    """From now to `hour`:00 next Wednesday, community time: every task of the story falls in one local week."""
    now = datetime.now(UTC)
    local = now.astimezone(SHANGHAI)
    days = (2 - local.weekday()) % 7 or 7
    return datetime.combine(local.date() + timedelta(days=days), time(hour), SHANGHAI) - now


async def test_batch_offers_respect_certificates_declines_and_the_weekly_cap_across_the_batch(client):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    r = await client.post(
        f"/api/v1/communities/{setup.id}/skills",
        json={"code": "night_patrol", "name_zh": "夜间巡逻", "requires_certificate": "first_aid"},
        headers=setup.staff.headers,
    )
    assert r.status_code == 201, r.text
    # 丙 was asked for the Thursday lunch run first, and said no.
    bing, bing_profile = await volunteer(client, setup, "丙", skills={"meal_delivery": 3})
    thursday = await task(client, setup, starts_in=_until_next_wednesday(9) + timedelta(days=1), minutes=60)
    (asked,) = await match(client, setup, thursday["id"])
    assert asked["volunteer_id"] == bing_profile["id"]
    assert (await act(client, bing, asked["id"], "decline")).status_code == 200
    # 甲 holds the certificate the patrol skill demands, but may give only 2 h a week; 乙 has no certificate.
    _, jia = await volunteer(
        client,
        setup,
        "甲",
        skills={"meal_delivery": 3, "night_patrol": 3},
        certificates=[{"kind": "first_aid", "expires_on": "2099-12-31"}],
        weekly_cap_minutes=120,
    )
    _, yi = await volunteer(client, setup, "乙", skills={"meal_delivery": 3, "night_patrol": 3})
    patrol = await task(client, setup, starts_in=_until_next_wednesday(9), minutes=120, skills={"night_patrol": 2})
    afternoon = await task(client, setup, starts_in=_until_next_wednesday(14), minutes=60)

    r = await client.post(f"/api/v1/communities/{setup.id}/tasks/assign", headers=setup.staff.headers)
    assert r.status_code == 200, r.text
    offered = {(o["task_id"], o["volunteer_id"]) for o in r.json()["offers"]}
    # Only 甲 may patrol; the patrol fills 甲's week, so the afternoon run goes to someone else; 丙 is not asked
    # twice for Thursday, and 甲 has no week left for it: it goes to 乙.
    assert (patrol["id"], jia["id"]) in offered
    assert (patrol["id"], yi["id"]) not in offered
    assert (afternoon["id"], jia["id"]) not in offered
    assert any(t == afternoon["id"] for t, _ in offered)
    assert (thursday["id"], yi["id"]) in offered
    assert (thursday["id"], bing_profile["id"]) not in offered
    assert r.json()["total_score"] == sum(o["score"] for o in r.json()["offers"])
    # Every offer of the batch is announced once (the volunteer's notification), with its ids.
    events = await db.fetch("SELECT payload FROM outbox_events WHERE topic = 'volunteers.offered'")
    payloads = [json.loads(e["payload"]) for e in events]
    announced = sorted((p["assignment_id"], p["task_id"], p["volunteer_id"]) for p in payloads)
    batch_offers = [(o["id"], o["task_id"], o["volunteer_id"]) for o in r.json()["offers"]]
    assert announced == sorted([(asked["id"], thursday["id"], bing_profile["id"]), *batch_offers])


async def test_staff_can_assign_only_the_tasks_before_a_date_and_leave_the_rest_for_later(client):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    await volunteer(client, setup, "甲")
    await volunteer(client, setup, "乙")
    tomorrow = await task(client, setup, starts_in=timedelta(days=1))
    next_month = await task(client, setup, starts_in=timedelta(days=30))
    url = f"/api/v1/communities/{setup.id}/tasks/assign"

    r = await client.post(url, json={"until": at(timedelta(days=7))}, headers=setup.staff.headers)
    assert r.status_code == 200, r.text
    assert r.json()["tasks"] == 1
    assert {o["task_id"] for o in r.json()["offers"]} == {tomorrow["id"]}

    # A date already past is a mistake, not an empty batch; nothing is offered.
    r = await client.post(url, json={"until": at(-timedelta(hours=1))}, headers=setup.staff.headers)
    assert r.status_code == 422
    assert r.json()["code"] == "batch_window_invalid"
    r = await client.post(url, json={"until": "next week"}, headers=setup.staff.headers)
    assert r.status_code in (400, 422)

    # Without a date, every upcoming task is in: next month's gets its offer now.
    r = await client.post(url, headers=setup.staff.headers)
    assert r.status_code == 200, r.text
    assert {o["task_id"] for o in r.json()["offers"]} == {next_month["id"]}
