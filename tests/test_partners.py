"""Partners apply, are approved, suspended and reinstated by their community; members and revenue share."""

from __future__ import annotations

from tests.api import community_with_staff
from tests.partners_api import approved_partner, partner


async def test_smoke(client):
    setup = await community_with_staff(client)
    p = await partner(client, setup)
    assert p.body["status"] == "pending"
    r = await client.post(f"/api/v1/partners/{p.id}/approve", headers=setup.staff.headers)
    assert r.status_code == 200, r.text
    p2 = await approved_partner(client, setup, name="普惠托育")
    assert p2.body["status"] == "approved"
