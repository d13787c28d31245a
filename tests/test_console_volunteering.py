"""A volunteer in the web console: answers an offer, sees their hours, star level and time bank, and downloads
the certificate their community issued; nobody else downloads it."""

from __future__ import annotations

from typing import Any

from linli import db
from tests.api import community_with_staff
from tests.console_helpers import signed_in
from tests.volunteers_api import (
    UNDER_WAY,
    act,
    catalog,
    certificate_issuer,
    id_number,
    match,
    real_name,
    task,
    volunteer,
)


async def test_a_volunteer_accepts_an_offer_and_downloads_their_certificate(app: Any, client: Any) -> None:
    setup = await community_with_staff(client, "光阳社区")
    await catalog(client, setup)
    await certificate_issuer(client, setup)
    he, profile = await volunteer(client, setup, "何志愿")
    await real_name(client, he, profile, "何志愿", id_number("19900307", 123))
    lunch = await task(client, setup, title="给独居老人送午餐", starts_in=UNDER_WAY)
    (offer,) = await match(client, setup, lunch["id"])

    async with signed_in(app, he) as tab:
        page = await tab.get("/me/volunteer")
        assert "给独居老人送午餐" in page.text and "接受任务" in page.text
        r = await tab.submit("/me/volunteer", f"/me/volunteer/assignments/{offer['id']}/accept", {})
        assert r.status_code == 303 and "offer_accepted" in r.headers["location"]
        assert await db.fetchval("SELECT status FROM volunteer_assignments") == "accepted"
        r = await tab.submit("/me/volunteer", f"/me/volunteer/assignments/{offer['id']}/nonsense", {})
        assert r.status_code == 404

        await act(client, he, offer["id"], "check-in")
        await act(client, he, offer["id"], "check-out")
        approved = await act(client, setup.staff, offer["id"], "approve", {"minutes": 150})
        assert approved.status_code == 200, approved.text
        issued = await client.post(
            f"/api/v1/volunteers/{profile['id']}/service-certificates", headers=setup.staff.headers
        )
        assert issued.status_code == 201, issued.text

        page = await tab.get("/me/volunteer")
        assert "2.5 小时" in page.text  # approved hours
        assert issued.json()["serial_no"] in page.text
        pdf = await tab.get(f"/me/volunteer/certificates/{issued.json()['id']}/pdf")
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")

    other, _ = await volunteer(client, setup, "郑晓燕")
    async with signed_in(app, other) as tab:
        r = await tab.get(f"/me/volunteer/certificates/{issued.json()['id']}/pdf")
        assert r.status_code == 404 and not r.content.startswith(b"%PDF")
        r = await tab.submit("/me/volunteer", f"/me/volunteer/assignments/{offer['id']}/decline", {})
        assert r.status_code == 404
    assert await db.fetchval("SELECT status FROM volunteer_assignments") == "approved"
