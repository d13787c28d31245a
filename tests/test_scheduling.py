from tests.api import community_with_staff
from tests.partners_api import bookable_slot


async def test_smoke(client):
    setup = await community_with_staff(client)
    p, o, s = await bookable_slot(client, setup)
    assert s["remaining"] == 10
    r = await client.get(f"/api/v1/offerings/{o['id']}/slots")
    assert r.status_code == 200, r.text
    assert [x["id"] for x in r.json()] == [s["id"]]
    r = await client.post(
        f"/api/v1/offerings/{o['id']}/schedules",
        json={
            "weekdays": [1, 3, 5],
            "start_time": "11:30",
            "end_time": "12:30",
            "capacity": 20,
            "valid_from": "2020-01-01",
        },
        headers=p.headers,
    )
    assert r.status_code == 201, r.text
    r = await client.get(f"/api/v1/offerings/{o['id']}/calendar.ics")
    assert r.status_code == 200, r.text
    print(r.text[:600])
    r = await client.get("/api/v1/offerings", params={"q": "食堂"})
    print(r.json())
