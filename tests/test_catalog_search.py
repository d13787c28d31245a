"""Residents find services in the catalog by Chinese text, pinyin, initials, availability and their subsidies."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from linli import db
from partners.catalog import CatalogQuery, catalog_sql
from tests.api import community_with_staff, grant, sign_up
from tests.partners_api import approved_partner, local, offering, published_offering, slot

API = "/api/v1"


async def titles(client, headers=None, **params) -> list[str]:
    r = await client.get(f"{API}/offerings", params=params, headers=headers or {})
    assert r.status_code == 200, r.text
    return sorted(i["title"] for i in r.json()["items"])


@pytest.fixture
async def catalog(client):
    setup = await community_with_staff(client)
    canteen = await approved_partner(client, setup, name="光阳长者饭堂")
    nursery = await approved_partner(client, setup, name="普惠托育中心", kind="childcare")
    repair = await approved_partner(client, setup, name="邻里家电维修", kind="repair")
    lunch = await published_offering(client, canteen, title="爱心食堂午餐", description="两荤一素一汤")
    daycare = await published_offering(
        client,
        nursery,
        title="普惠托育全日班",
        category="childcare",
        description="2-3岁幼儿",
        subsidies={},
        price_fen=120000,
    )
    fix = await published_offering(
        client, repair, title="家电维修上门", category="repair", description="空调洗衣机", subsidies={}, on_demand=True
    )
    await offering(client, canteen, title="爱心晚餐草稿")  # a draft: never in the catalog
    return (
        setup,
        {"canteen": canteen, "nursery": nursery, "repair": repair},
        {"lunch": lunch, "daycare": daycare, "fix": fix},
    )


async def test_chinese_substrings_of_title_and_description_match(client, catalog):
    assert await titles(client, q="食堂") == ["爱心食堂午餐"]
    assert await titles(client, q="托育") == ["普惠托育全日班"]
    assert await titles(client, q="维修上门") == ["家电维修上门"]
    assert await titles(client, q="午") == ["爱心食堂午餐"]
    assert await titles(client, q="两荤一素") == ["爱心食堂午餐"]
    assert await titles(client, q="洗衣") == ["家电维修上门"]
    assert await titles(client, q="爱心") == ["爱心食堂午餐"]  # not the draft 爱心晚餐草稿
    assert await titles(client, q="火锅") == []
    assert await titles(client, q="食午") == []  # grams must be adjacent, not merely present


async def test_pinyin_and_initials_match(client, catalog):
    assert await titles(client, q="aixin") == ["爱心食堂午餐"]
    assert await titles(client, q="AiXin") == ["爱心食堂午餐"]
    assert await titles(client, q="ai xin") == ["爱心食堂午餐"]
    assert await titles(client, q="axst") == ["爱心食堂午餐"]
    assert await titles(client, q="ax") == ["爱心食堂午餐"]
    assert await titles(client, q="tuoyu") == ["普惠托育全日班"]
    assert await titles(client, q="jdwx") == ["家电维修上门"]
    assert await titles(client, q="weixiu") == ["家电维修上门"]
    assert await titles(client, q="zzzz") == []


async def test_partner_name_is_searchable(client, catalog):
    assert await titles(client, q="饭堂") == ["爱心食堂午餐"]


async def test_like_wildcards_in_queries_are_literal(client, catalog):
    assert await titles(client, q="%") == []
    assert await titles(client, q="_") == []
    assert await titles(client, q="a%n") == []
    assert await titles(client, q="食\x00堂") == ["爱心食堂午餐"]


async def test_filters_by_category_community_and_partner(client, catalog):
    setup, partners, _ = catalog
    other = await community_with_staff(client, "海甸社区")
    elsewhere = await approved_partner(client, other, name="海甸食堂")
    await published_offering(client, elsewhere, title="海甸午餐")
    assert await titles(client, category="meal") == ["海甸午餐", "爱心食堂午餐"]
    assert await titles(client, category="meal", community_id=setup.id) == ["爱心食堂午餐"]
    assert await titles(client, community_id=other.id) == ["海甸午餐"]
    assert await titles(client, partner_id=partners["nursery"].id) == ["普惠托育全日班"]
    assert await titles(client, q="午餐", community_id=other.id) == ["海甸午餐"]


async def test_free_places_in_a_date_range(client, catalog):
    _, partners, offers = catalog
    canteen, nursery = partners["canteen"], partners["nursery"]
    await slot(client, canteen, offers["lunch"]["id"], starts_at=local(days=3), capacity=5)
    full = await slot(client, nursery, offers["daycare"]["id"], starts_at=local(days=3, hour=8), capacity=2)
    await db.execute("UPDATE slots SET booked = capacity WHERE id = $1", UUID(full["id"]))
    day3 = local(days=3).date()
    in_range = {"date_from": (day3 - timedelta(days=1)).isoformat(), "date_to": day3.isoformat()}
    # The full daycare slot does not count; the on-demand repair service needs no slot.
    assert await titles(client, **in_range) == ["家电维修上门", "爱心食堂午餐"]
    later = {"date_from": (day3 + timedelta(days=1)).isoformat(), "date_to": (day3 + timedelta(days=5)).isoformat()}
    assert await titles(client, **later) == ["家电维修上门"]
    assert await titles(client, available="true") == ["家电维修上门", "爱心食堂午餐"]
    # A freed place makes the daycare available again; a cancelled slot never counts.
    await db.execute("UPDATE slots SET booked = 1 WHERE id = $1", UUID(full["id"]))
    assert await titles(client, available="true", category="childcare") == ["普惠托育全日班"]
    r = await client.post(f"{API}/slots/{full['id']}/cancel", headers=nursery.headers)
    assert r.status_code == 200
    assert await titles(client, available="true", category="childcare") == []


async def test_subsidised_for_me_uses_the_callers_priority_groups(client, catalog):
    setup, _, _ = catalog
    granny = await sign_up(client, "陈阿婆")
    young = await sign_up(client, "张伟")
    for person in (granny, young):
        await grant(client, setup.admin, setup.id, person, "resident")
    r = await client.put(
        f"{API}/communities/{setup.id}/residents/{granny.id}/priority-groups",
        json={"groups": ["elderly_alone"]},
        headers=setup.staff.headers,
    )
    assert r.status_code == 200, r.text
    assert await titles(client, granny.headers, subsidised_for_me="true") == ["爱心食堂午餐"]
    assert await titles(client, young.headers, subsidised_for_me="true") == []
    # Groups in one community do not subsidise anything in another.
    other = await community_with_staff(client, "海甸社区")
    elsewhere = await approved_partner(client, other, name="海甸食堂")
    await published_offering(client, elsewhere, title="海甸午餐")
    assert await titles(client, granny.headers, subsidised_for_me="true") == ["爱心食堂午餐"]
    r = await client.get(f"{API}/offerings", params={"subsidised_for_me": "true"})
    assert r.status_code == 401


async def test_pages_carry_the_total(client):
    setup = await community_with_staff(client)
    p = await approved_partner(client, setup)
    for i in range(7):
        await published_offering(client, p, title=f"午餐套餐{i}")
    r = await client.get(f"{API}/offerings", params={"q": "午餐", "limit": 3, "offset": 3})
    body = r.json()
    assert (len(body["items"]), body["total"], body["limit"], body["offset"]) == (3, 7, 3, 3)
    seen = set()
    for offset in (0, 3, 6):
        page = (await client.get(f"{API}/offerings", params={"limit": 3, "offset": offset})).json()
        seen |= {i["id"] for i in page["items"]}
    assert len(seen) == 7
    beyond = (await client.get(f"{API}/offerings", params={"limit": 3, "offset": 30})).json()
    assert (beyond["items"], beyond["total"]) == ([], 7)


async def test_editing_an_offering_keeps_its_search_text_current(client, catalog):
    _, partners, offers = catalog
    r = await client.patch(
        f"{API}/offerings/{offers['lunch']['id']}", json={"title": "长者营养餐"}, headers=partners["canteen"].headers
    )
    assert r.status_code == 200
    assert await titles(client, q="aixin") == []
    assert await titles(client, q="营养") == ["长者营养餐"]
    assert await titles(client, q="yingyang") == ["长者营养餐"]
    assert await titles(client, q="zzyyc") == ["长者营养餐"]


async def test_bad_catalog_parameters_are_4xx_problems(client, catalog):
    for params in [
        {"limit": 0},
        {"limit": 1000},
        {"offset": -1},
        {"category": "weapons"},
        {"community_id": "not-a-uuid"},
        {"date_from": "tomorrow"},
        {"date_from": "2030-01-10", "date_to": "2030-01-01"},
        {"q": "长" * 51},
    ]:
        r = await client.get(f"{API}/offerings", params=params)
        assert 400 <= r.status_code < 500, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(("q", "index"), [("食堂午餐", "offerings_search_trgm"), ("食堂", "offerings_search_grams")])
async def test_queries_use_the_search_indexes(catalog, q, index):
    # Enough other offerings that a scan would be the slow choice; then ask the planner.
    await db.execute(
        "INSERT INTO offerings (id, partner_id, community_id, title, category, description, price_fen, subsidies,"
        " status, search_text, search_grams)"
        " SELECT gen_random_uuid(), partner_id, community_id, '便民服务' || i, 'other', '', 100, '{}', 'published',"
        " '便民服务' || i || chr(31) || 'bianminfuwu' || i, ARRAY['便', '便民', '民', '民服', '服', '服务', '务']"
        " FROM offerings, generate_series(1, 5000) AS i WHERE title = '家电维修上门'"
    )
    await db.execute("ANALYZE offerings")
    await db.execute("ANALYZE partners")
    sql, args = catalog_sql(CatalogQuery(q=q))
    async with db.unit_of_work():
        # At this size a scan is still cheap; forbid it so the planner shows which index serves the query.
        # (bench.search checks the plan on 100,000 offerings without this.)
        await db.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(r[0] for r in await db.fetch(f"EXPLAIN {sql}", *args))
    assert index in plan, plan
