"""Partner admins create, edit, publish, pause and archive offerings; only approved partners sell."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from linli import db
from linli.errors import Conflict
from partners import offerings
from tests.api import community_with_staff, sign_up
from tests.partners_api import approved_partner, offering, offering_body, partner, partner_staff, published_offering

API = "/api/v1"


async def count(sql: str, *args) -> int:
    return int(await db.fetchval(sql, *args))


async def test_canteen_publishes_a_subsidised_lunch(client):
    setup = await community_with_staff(client)
    canteen = await approved_partner(client, setup)
    body = offering_body(
        per_resident_daily_limit=1, min_notice_minutes=120, cancel_cutoff_minutes=60, accepts_time_credits=True
    )
    r = await client.post(f"{API}/partners/{canteen.id}/offerings", json=body, headers=canteen.headers)
    assert r.status_code == 201, r.text
    draft = r.json()
    assert draft["status"] == "draft"
    assert draft["subsidies"] == {"elderly": 1000, "elderly_alone": 500}
    assert draft["community_id"] == setup.id
    assert (draft["per_resident_daily_limit"], draft["min_notice_minutes"], draft["cancel_cutoff_minutes"]) == (
        1,
        120,
        60,
    )
    # A draft is not in the catalog.
    assert (await client.get(f"{API}/offerings/{draft['id']}")).status_code == 404
    assert (await client.get(f"{API}/offerings/{draft['id']}", headers=canteen.headers)).status_code == 200
    r = await client.post(f"{API}/offerings/{draft['id']}/publish", headers=canteen.headers)
    assert r.status_code == 200
    assert r.json()["status"] == "published"
    public = await client.get(f"{API}/offerings/{draft['id']}")
    assert public.status_code == 200
    assert public.json()["price_fen"] == 1500
    bookable = await offerings.require_bookable(offering_id=UUID(draft["id"]))
    assert bookable.subsidies["elderly_alone"] == 500


async def test_offering_lifecycle_and_illegal_transitions(client):
    setup = await community_with_staff(client)
    p = await approved_partner(client, setup)
    o = await offering(client, p)
    url = f"{API}/offerings/{o['id']}"
    expectations = [
        ("pause", 409),
        ("publish", 200),
        ("publish", 409),
        ("pause", 200),
        ("pause", 409),
        ("publish", 200),
        ("archive", 200),
        ("publish", 409),
        ("pause", 409),
        ("archive", 409),
    ]
    for action, status in expectations:
        r = await client.post(f"{url}/{action}", headers=p.headers)
        assert r.status_code == status, (action, r.text)
        if status == 409:
            assert r.json()["code"] == "invalid_transition"
    r = await client.patch(url, json={"title": "新标题"}, headers=p.headers)
    assert r.status_code == 409
    assert (await client.get(url, headers=p.headers)).json()["title"] == "爱心午餐"


async def test_pending_and_suspended_partners_cannot_publish_or_sell(client):
    setup = await community_with_staff(client)
    pending = await partner(client, setup)
    draft = await offering(client, pending)
    r = await client.post(f"{API}/offerings/{draft['id']}/publish", headers=pending.headers)
    assert r.status_code == 409
    assert r.json()["code"] == "partner_not_selling"

    p = await approved_partner(client, setup, name="日间照料中心", kind="elderly_daycare")
    live = await published_offering(client, p, title="日间照料", category="elderly_daycare")
    second = await offering(client, p, title="助浴服务")
    r = await client.post(f"{API}/partners/{p.id}/suspend", json={"reason": "投诉核查"}, headers=setup.staff.headers)
    assert r.status_code == 200
    r = await client.post(f"{API}/offerings/{second['id']}/publish", headers=p.headers)
    assert r.status_code == 409
    assert r.json()["code"] == "partner_not_selling"
    # The already published offering leaves the catalog and cannot be booked.
    assert (await client.get(f"{API}/offerings/{live['id']}")).status_code == 404
    catalog = (await client.get(f"{API}/offerings", params={"community_id": setup.id})).json()
    assert catalog["total"] == 0
    with pytest.raises(Conflict):
        await offerings.require_bookable(offering_id=UUID(live["id"]))
    await client.post(f"{API}/partners/{p.id}/reinstate", json={"reason": "整改完成"}, headers=setup.staff.headers)
    assert (await client.get(f"{API}/offerings/{live['id']}")).status_code == 200


@pytest.mark.parametrize(
    "overrides",
    [
        {"price_fen": 0},
        {"price_fen": -100},
        {"price_fen": 1_000_001},
        {"price_fen": 10**20},
        {"price_fen": 15.5},
        {"price_fen": "1500元"},
        {"subsidies": {"vip": 100}},
        {"subsidies": {"elderly": 1600}},
        {"subsidies": {"elderly": -1}},
        {"subsidies": {"elderly": "free"}},
        {"subsidies": ["elderly"]},
        {"title": ""},
        {"title": "   "},
        {"title": "午餐\u0000"},
        {"title": "餐" * 101},
        {"description": "餐" * 2001},
        {"category": "weapons"},
        {"min_notice_minutes": -1},
        {"cancel_cutoff_minutes": 10**9},
        {"per_resident_daily_limit": 0},
        {"per_resident_daily_limit": 1000},
    ],
)
async def test_bad_offerings_are_422_and_write_nothing(client, overrides):
    setup = await community_with_staff(client)
    p = await approved_partner(client, setup)
    r = await client.post(f"{API}/partners/{p.id}/offerings", json=offering_body(**overrides), headers=p.headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert await count("SELECT count(*) FROM offerings") == 0


async def test_edits_are_validated_against_the_merged_offering(client):
    setup = await community_with_staff(client)
    p = await approved_partner(client, setup)
    o = await offering(client, p)
    url = f"{API}/offerings/{o['id']}"
    # Lowering the price under a subsidised price would make the subsidy negative.
    for body in [
        {"price_fen": 800},
        {"subsidies": {"nobody": 1}},
        {"title": None},
        {"price_fen": 0},
        {"title": "x" * 101},
    ]:
        r = await client.patch(url, json=body, headers=p.headers)
        assert r.status_code == 422, (body, r.text)
    current = (await client.get(url, headers=p.headers)).json()
    assert (current["price_fen"], current["title"]) == (1500, "爱心午餐")
    r = await client.patch(
        url,
        json={"price_fen": 1200, "subsidies": {"elderly_alone": 0}, "per_resident_daily_limit": None},
        headers=p.headers,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["price_fen"], r.json()["subsidies"], r.json()["per_resident_daily_limit"]) == (
        1200,
        {"elderly_alone": 0},
        None,
    )


async def test_only_the_partners_admins_manage_its_offerings(client):
    setup = await community_with_staff(client)
    other = await community_with_staff(client, "海甸社区")
    p = await approved_partner(client, setup)
    rival = await approved_partner(client, setup, name="邻家食堂")
    waiter = await partner_staff(client, p)
    resident = await sign_up(client, "陈阿婆")
    draft = await offering(client, p)
    live = await published_offering(client, p, title="爱心晚餐")
    outsiders = [resident, rival.admin, waiter, setup.staff, other.staff, other.admin]
    for person in outsiders:
        r = await client.post(f"{API}/partners/{p.id}/offerings", json=offering_body(), headers=person.headers)
        assert r.status_code in (403, 404), person.name
        for o in (draft, live):
            for action in ("publish", "pause", "archive"):
                r = await client.post(f"{API}/offerings/{o['id']}/{action}", headers=person.headers)
                assert r.status_code in (403, 404), (person.name, action)
            r = await client.patch(f"{API}/offerings/{o['id']}", json={"price_fen": 1}, headers=person.headers)
            assert r.status_code in (403, 404), person.name
    # Drafts stay hidden (404) from people outside the partner and its community.
    for person in [resident, rival.admin, other.staff]:
        assert (await client.get(f"{API}/offerings/{draft['id']}", headers=person.headers)).status_code == 404
        r = await client.post(f"{API}/offerings/{draft['id']}/publish", headers=person.headers)
        assert r.status_code == 404
    assert await count("SELECT count(*) FROM offerings") == 2
    rows = await db.fetch("SELECT status, price_fen FROM offerings ORDER BY created_at")
    assert [(r["status"], r["price_fen"]) for r in rows] == [("draft", 1500), ("published", 1500)]


async def test_unknown_and_malformed_offering_ids(client):
    setup = await community_with_staff(client)
    p = await approved_partner(client, setup)
    r = await client.get(f"{API}/offerings/{uuid4()}")
    assert r.status_code == 404
    assert r.json()["code"] == "offering_not_found"
    for action in ("publish", "pause", "archive"):
        assert (await client.post(f"{API}/offerings/{uuid4()}/{action}", headers=p.headers)).status_code == 404
    r = await client.patch(f"{API}/offerings/not-an-id", json={"title": "x"}, headers=p.headers)
    assert r.status_code in (404, 405, 422)
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.post(f"{API}/partners/{uuid4()}/offerings", json=offering_body(), headers=p.headers)
    assert r.status_code == 404
    assert await count("SELECT count(*) FROM offerings") == 0


async def test_rejected_partner_cannot_add_offerings(client):
    setup = await community_with_staff(client)
    p = await partner(client, setup)
    await client.post(f"{API}/partners/{p.id}/reject", json={"reason": "资质不全"}, headers=setup.staff.headers)
    r = await client.post(f"{API}/partners/{p.id}/offerings", json=offering_body(), headers=p.headers)
    assert r.status_code == 409
    assert await count("SELECT count(*) FROM offerings") == 0


async def test_partner_staff_list_every_offering_of_their_partner(client):
    setup = await community_with_staff(client)
    p = await approved_partner(client, setup)
    waiter = await partner_staff(client, p)
    await offering(client, p, title="草稿")
    await published_offering(client, p, title="已上架")
    r = await client.get(f"{API}/partners/{p.id}/offerings", headers=waiter.headers)
    assert sorted(o["title"] for o in r.json()) == ["已上架", "草稿"]
    stranger = await sign_up(client)
    assert (await client.get(f"{API}/partners/{p.id}/offerings", headers=stranger.headers)).status_code == 403
