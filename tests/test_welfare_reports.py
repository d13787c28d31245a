"""Reports on the fund for staff (per partner, per category, month over month, CSV, chart) and residents."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

from tests.welfare_api import API, complete_bookings, deposit, expected_share, fund_setup, partner, settle
from welfare import periods


async def _two_months(client):
    fund = await fund_setup(client)
    canteen, a1 = await partner(fund.id, fund.admin.id, name="近邻食堂", rate_bp=500)
    care, a2 = await partner(fund.id, fund.admin.id, name="日间照料中心", rate_bp=1000)
    await complete_bookings(
        fund.id, canteen, fund.resident.id, prices=[1500] * 4, subsidies=[500] * 4, agreement_id=a1, period="2026-09"
    )
    await complete_bookings(
        fund.id,
        canteen,
        fund.resident.id,
        prices=[1500] * 10,
        subsidies=[500, 0] * 5,
        agreement_id=a1,
        period="2026-10",
    )
    await complete_bookings(
        fund.id,
        care,
        fund.resident.id,
        prices=[6000, 6001],
        subsidies=[1000, 0],
        agreement_id=a2,
        rate_bp=1000,
        period="2026-10",
        category="elderly_daycare",
    )
    await settle(client, fund, "2026-09")
    await settle(client, fund, "2026-10")
    return fund


async def test_staff_see_october_per_partner_and_category_against_september(client):
    fund = await _two_months(client)
    r = await client.get(f"{API}/communities/{fund.id}/reports/welfare?period=2026-10", headers=fund.staff.headers)
    assert r.status_code == 200, r.text
    report = r.json()
    by_name = {p["name"]: p for p in report["partners"]}
    assert by_name["近邻食堂"]["gross_fen"] == 15_000
    assert by_name["近邻食堂"]["share_fen"] == expected_share([1500] * 10, 500)
    assert by_name["近邻食堂"]["subsidies_fen"] == 2500
    assert by_name["近邻食堂"]["net_fen"] == 750 - 2500
    assert by_name["日间照料中心"]["share_fen"] == 600 + 600
    cats = {c["key"]: c for c in report["categories"]}
    assert set(cats) == {"meal", "elderly_daycare"}
    assert cats["elderly_daycare"]["gross_fen"] == 12_001
    totals = report["totals"]
    assert totals["gross_fen"] == 15_000 + 12_001
    assert totals["share_fen"] == 750 + 1200
    assert totals["subsidies_fen"] == 2500 + 1000
    assert report["previous_period"] == "2026-09"
    assert report["previous_totals"]["share_fen"] == 300
    assert report["change"]["share_fen"] == 1950 - 300
    assert report["change"]["bookings"] == 12 - 4

    exported = await client.get(
        f"{API}/communities/{fund.id}/reports/welfare.csv?period=2026-10", headers=fund.staff.headers
    )
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
    partner_rows = {r[2]: r for r in rows if r and r[0] == "partner"}
    assert partner_rows["近邻食堂"][5] == "750"
    assert any(r[:2] == ["total", "2026-10"] and r[5] == "1950" for r in rows)


async def test_chart_shows_money_returned_and_spent_per_month(client):
    fund = await _two_months(client)
    r = await client.get(f"{API}/communities/{fund.id}/reports/welfare/chart.svg?months=36", headers=fund.staff.headers)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("image/svg+xml")
    svg = ET.fromstring(r.text)
    bars = {
        (el.get("data-period"), el.get("class")): int(el.get("data-fen", "0"))
        for el in svg.iter("{http://www.w3.org/2000/svg}rect")
        if el.get("data-period")
    }
    assert bars[("2026-10", "returned")] == 1950
    assert bars[("2026-10", "spent")] == 3500
    assert bars[("2026-09", "returned")] == 300


async def test_residents_see_the_public_disclosure_without_personal_data(client):
    fund = await _two_months(client)
    await deposit(client, fund, 5_000_000, "区民政局拨款", source="government_grant", payer="区民政局")
    r = await client.get(f"{API}/communities/{fund.id}/welfare-fund/disclosure?months=36")  # no token at all
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["deposits_by_source"] == {"government_grant": 5_000_000}
    months = {m["period"]: m for m in body["months"]}
    assert months["2026-10"]["returned_fen"] == 1950
    assert months["2026-10"]["subsidies_fen"] == 3500
    assert body["partners_returning"] == 2
    text = r.text
    assert fund.resident.name not in text and fund.resident.phone not in text and fund.resident.id not in text
    assert "陈阿婆" not in text


async def test_reports_refuse_bad_periods_and_outsiders(client):
    fund = await fund_setup(client)
    future = periods.previous(periods.current_period("Asia/Shanghai"), -1)
    for period in ["2026-13", "abc", future]:
        r = await client.get(f"{API}/communities/{fund.id}/reports/welfare?period={period}", headers=fund.staff.headers)
        assert 400 <= r.status_code < 500, (period, r.status_code)
        assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.get(f"{API}/communities/{fund.id}/reports/welfare?period=2026-10", headers=fund.resident.headers)
    assert r.status_code == 403
    other = await fund_setup(client, "白龙社区")
    r = await client.get(f"{API}/communities/{fund.id}/reports/welfare?period=2026-10", headers=other.staff.headers)
    assert r.status_code == 403
