"""Elderly residents answer by SMS: a booking made for them, or a waitlist place held for them, is confirmed or
declined by replying Y or N; the gateway is a real local HTTP server, the worker a real process."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from uuid import UUID

import pytest

from linli import db
from linli.settings import reload_settings
from marketplace.tasks import send_sms_prompt
from notifications.channels import LoggingSmsChannel, sms_channel, use_sms_channel
from notifications.sms import HttpSmsChannel, SmsDeliveryError, signature, signature_valid
from tests.conftest import eventually, process_env
from tests.marketplace_api import assert_problem, book, booked_places, canteen, resident
from tests.test_waitlist_holds import entry_of, free_the_place, full_nursery, line_up

WEBHOOK_SECRET = "webhook-secret-for-tests"
API_KEY, API_SECRET = "linli-test-key", "api-secret-for-tests"


class FakeGateway:
    """The SMS gateway as an outside party: checks our key and signature, deduplicates on `out_id`.

    `behaviours` are consumed one per request: "503" answers 503 without taking the message, "lost_ack" takes
    it but answers 500 (as if the answer was lost), "slow" sleeps past the client's timeout.
    """

    def __init__(self, behaviours: list[str] | None = None) -> None:
        self.behaviours = list(behaviours or [])
        self.requests: list[dict[str, Any]] = []
        self.accepted: dict[str, dict[str, Any]] = {}
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                message = json.loads(body)
                gateway.requests.append(message)
                ok = self.headers["X-Api-Key"] == API_KEY and signature_valid(
                    secret=API_SECRET,
                    timestamp=self.headers["X-Timestamp"],
                    signed=self.headers["X-Signature"],
                    body=body,
                )
                behaviour = gateway.behaviours.pop(0) if gateway.behaviours else "ok"
                if not ok:
                    self._answer(401)
                elif behaviour == "503":
                    self._answer(503)
                elif behaviour == "slow":
                    time.sleep(1.5)
                    self._answer(200)
                else:
                    gateway.accepted.setdefault(message["out_id"], message)
                    self._answer(500 if behaviour == "lost_ack" else 200)

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/send"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def env(self) -> dict[str, str]:
        return {
            "LINLI_SMS_ENDPOINT_URL": self.url,
            "LINLI_SMS_API_KEY": API_KEY,
            "LINLI_SMS_API_SECRET": API_SECRET,
            "LINLI_SMS_TIMEOUT_SECONDS": "1",
        }

    def channel(self) -> HttpSmsChannel:
        return HttpSmsChannel(
            endpoint_url=self.url, api_key=API_KEY, api_secret=API_SECRET, sender_id="邻里", timeout_seconds=1
        )


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    g = FakeGateway()
    yield g
    g.server.shutdown()
    g.server.server_close()


@pytest.fixture(autouse=True)
def webhook_secret() -> Iterator[None]:
    os.environ["LINLI_SMS_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    reload_settings()
    yield
    del os.environ["LINLI_SMS_WEBHOOK_SECRET"]
    reload_settings()
    use_sms_channel(None)


async def reply(client: Any, message_id: str, phone: str, text: str, *, secret: str = WEBHOOK_SECRET, age: int = 0):
    body = json.dumps({"message_id": message_id, "phone": phone, "text": text}).encode()
    ts = str(int(time.time()) - age)
    return await client.post(
        "/api/v1/sms/inbound",
        content=body,
        headers={"X-Timestamp": ts, "X-Signature": signature(secret=secret, timestamp=ts, body=body)},
    )


async def prompts_of(person: Any) -> list[Any]:
    return await db.fetch(
        "SELECT id, kind, booking_id, reply_code, answer, outcome, closed_at, sent_at FROM sms_prompts"
        " WHERE resident_id = $1 ORDER BY created_at",
        UUID(person.id),
    )


async def status_of(booking_id: Any) -> str:
    return str(await db.fetchval("SELECT status FROM bookings WHERE id = $1", UUID(str(booking_id))))


async def proxy_booking(client: Any, c: Any, elder: Any, slot_id: str | None = None) -> dict[str, Any]:
    r = await book(client, c.setup.staff, slot_id or c.slot_id, resident_id=elder.id)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_a_resident_booked_by_proxy_is_texted_once_and_confirms_with_y(client, start_worker, gateway):
    c = await canteen(client)
    elder = await resident(client, c.setup, "独居的王奶奶")
    neighbour = await resident(client, c.setup, "自己预约的李大爷")
    assert (await book(client, neighbour, c.slot_id)).status_code == 201
    assert await prompts_of(neighbour) == []  # a booking one makes oneself asks nothing
    booking = await proxy_booking(client, c, elder)

    start_worker(process_env() | gateway.env())
    await eventually(lambda: db.fetchval("SELECT bool_and(sent_at IS NOT NULL) FROM sms_prompts"), timeout=60)
    (prompt,) = await prompts_of(elder)
    assert list(gateway.accepted) == [str(prompt["id"])]
    text = gateway.accepted[str(prompt["id"])]
    assert text["phone"] == elder.phone and "网格员小李为您代办预约" in text["content"]
    assert f"回复Y {prompt['reply_code']}确认" in text["content"]

    r = await reply(client, "gw-1", "+86" + elder.phone, f"y {prompt['reply_code']}")
    assert r.status_code == 200, r.text
    assert r.json() == {"outcome": "confirmed", "prompt_id": str(prompt["id"])}
    (prompt,) = await prompts_of(elder)
    assert prompt["answer"] == "Y" and prompt["closed_at"] is not None
    assert await status_of(booking["id"]) == "confirmed"
    assert await booked_places(c.slot_id) == 2


async def test_n_with_its_code_cancels_that_booking_and_a_bare_y_answers_the_one_left(client):
    c = await canteen(client, capacity=1)
    other = await canteen(client, setup=c.setup)
    elder = await resident(client, c.setup, "独居的王奶奶")
    first = await proxy_booking(client, c, elder)
    second = await proxy_booking(client, other, elder, other.slot_id)
    neighbour = await resident(client, c.setup, "候补的李大爷")
    r = await client.post(f"/api/v1/slots/{c.slot_id}/waitlist", json={"quantity": 1}, headers=neighbour.headers)
    assert r.status_code == 201, r.text
    p1, p2 = await prompts_of(elder)
    assert p1["reply_code"] != p2["reply_code"]

    # Two open prompts: a bare answer cannot tell which, so nothing changes.
    assert (await reply(client, "gw-1", elder.phone, "N")).json()["outcome"] == "ambiguous"
    assert await status_of(first["id"]) == "confirmed" and await status_of(second["id"]) == "confirmed"

    r = await reply(client, "gw-2", elder.phone, f"N{p1['reply_code']}")
    assert r.json()["outcome"] == "cancelled"
    assert await status_of(first["id"]) == "cancelled"
    # The place went to the waitlist, through the same cancellation the API uses.
    assert (await entry_of(client, neighbour, c.slot_id))["status"] == "promoted"
    assert await booked_places(c.slot_id) == 1

    assert (await reply(client, "gw-3", elder.phone, "是")).json()["outcome"] == "confirmed"
    assert await status_of(second["id"]) == "confirmed"
    assert [p["answer"] for p in await prompts_of(elder)] == ["N", "Y"]


async def test_a_held_waitlist_place_is_texted_and_a_y_books_it(client, start_worker, gateway):
    c, first = await full_nursery(client)
    (parent,) = await line_up(client, c, "候补的张阿姨")
    await free_the_place(client, first)
    (prompt,) = await prompts_of(parent)
    assert prompt["kind"] == "held_place"

    start_worker(process_env() | gateway.env())
    await eventually(lambda: db.fetchval("SELECT bool_and(sent_at IS NOT NULL) FROM sms_prompts"), timeout=60)
    assert "为您保留至" in gateway.accepted[str(prompt["id"])]["content"]

    assert (await reply(client, "gw-1", parent.phone, f"Y {prompt['reply_code']}")).json()["outcome"] == "confirmed"
    assert await status_of(prompt["booking_id"]) == "confirmed"
    assert (await entry_of(client, parent, c.slot_id))["status"] == "promoted"


async def test_n_declines_a_held_place_and_it_passes_to_the_next_in_line(client):
    c, first = await full_nursery(client)
    a, b = await line_up(client, c, "第一位候补", "第二位候补")
    await free_the_place(client, first)
    (prompt,) = await prompts_of(a)

    assert (await reply(client, "gw-1", a.phone, f"{prompt['reply_code']} n")).json()["outcome"] == "declined"
    assert await status_of(prompt["booking_id"]) == "cancelled"
    assert (await entry_of(client, a, c.slot_id))["status"] == "declined"
    assert (await entry_of(client, b, c.slot_id))["status"] == "offered"
    (offer,) = await prompts_of(b)  # the next in line is asked in turn
    assert offer["closed_at"] is None
    assert await booked_places(c.slot_id) == 1


async def test_replays_unknown_codes_answered_and_expired_prompts_change_nothing(client):
    c = await canteen(client)
    other = await canteen(client, setup=c.setup)
    elder = await resident(client, c.setup, "独居的王奶奶")
    first = await proxy_booking(client, c, elder)
    second = await proxy_booking(client, other, elder, other.slot_id)
    p1, p2 = await prompts_of(elder)
    unknown = next(
        code for code in (f"{i:04d}" for i in range(10_000)) if code not in (p1["reply_code"], p2["reply_code"])
    )

    assert (await reply(client, "gw-1", elder.phone, f"N {unknown}")).json()["outcome"] == "no_open_prompt"
    assert (await reply(client, "gw-2", "13800000000", f"N {p1['reply_code']}")).json()["outcome"] == "no_open_prompt"
    assert (await reply(client, "gw-3", elder.phone, "不要了")).json()["outcome"] == "not_understood"
    assert (await reply(client, "gw-4", elder.phone, f"Y {p1['reply_code']}")).json()["outcome"] == "confirmed"
    # The same gateway message id again, whatever it says now, is a replay.
    assert (await reply(client, "gw-4", elder.phone, f"N {p2['reply_code']}")).json()["outcome"] == "replayed"
    # An answered prompt takes no second answer.
    assert (await reply(client, "gw-5", elder.phone, f"N {p1['reply_code']}")).json()["outcome"] == "no_open_prompt"
    # An expired prompt neither (and the closing job frees its code).
    await db.execute("UPDATE sms_prompts SET expires_at = now() - interval '1 second' WHERE id = $1", p2["id"])
    assert (await reply(client, "gw-6", elder.phone, f"N {p2['reply_code']}")).json()["outcome"] == "no_open_prompt"
    from marketplace.tasks import close_sms_prompts

    assert await close_sms_prompts("t") == [str(p2["id"])]

    assert await status_of(first["id"]) == "confirmed" and await status_of(second["id"]) == "confirmed"
    assert [(p["answer"], p["outcome"]) for p in await prompts_of(elder)] == [("Y", "confirmed"), (None, "expired")]


async def test_a_bad_or_stale_signature_is_refused_and_changes_nothing(client):
    c = await canteen(client)
    elder = await resident(client, c.setup, "独居的王奶奶")
    booking = await proxy_booking(client, c, elder)
    (prompt,) = await prompts_of(elder)
    answer = f"N {prompt['reply_code']}"

    assert_problem(await reply(client, "gw-1", elder.phone, answer, secret="guessed"), 401, "sms_signature_invalid")
    assert_problem(await reply(client, "gw-1", elder.phone, answer, age=301), 401, "sms_signature_expired")
    unsigned = await client.post("/api/v1/sms/inbound", json={"message_id": "gw-1", "phone": elder.phone, "text": "N"})
    assert_problem(unsigned, 401, "sms_signature_invalid")
    # A signature of another body does not cover this one.
    ts = str(int(time.time()))
    forged = await client.post(
        "/api/v1/sms/inbound",
        content=json.dumps({"message_id": "gw-1", "phone": elder.phone, "text": answer}).encode(),
        headers={"X-Timestamp": ts, "X-Signature": signature(secret=WEBHOOK_SECRET, timestamp=ts, body=b"{}")},
    )
    assert_problem(forged, 401, "sms_signature_invalid")
    assert await status_of(booking["id"]) == "confirmed"
    assert await db.fetchval("SELECT count(*) FROM processed_messages WHERE consumer = 'sms.inbound'") == 0

    # The genuine reply, with the same message id, still counts.
    assert (await reply(client, "gw-1", elder.phone, answer)).json()["outcome"] == "cancelled"
    assert await status_of(booking["id"]) == "cancelled"


async def test_a_gateway_failure_is_retried_and_the_resident_gets_one_text(client, start_worker, gateway):
    c = await canteen(client)
    elder = await resident(client, c.setup, "独居的王奶奶")
    await proxy_booking(client, c, elder)
    (prompt,) = await prompts_of(elder)
    gateway.behaviours = ["503", "lost_ack"]  # down, then it takes the text but its answer is lost

    start_worker(process_env() | gateway.env())
    await eventually(lambda: db.fetchval("SELECT sent_at IS NOT NULL FROM sms_prompts"), timeout=60)
    assert [m["out_id"] for m in gateway.requests] == [str(prompt["id"])] * 3
    assert list(gateway.accepted) == [str(prompt["id"])]


async def test_the_http_adapter_raises_a_retryable_error_for_any_failure(gateway):
    assert isinstance(sms_channel(), LoggingSmsChannel)  # no endpoint configured
    channel = gateway.channel()
    gateway.behaviours = ["503", "slow"]
    for _ in range(2):
        with pytest.raises(SmsDeliveryError):
            await channel.send_sms(message_id="m-1", phone="13900000000", text="测试")
    unreachable = HttpSmsChannel(
        endpoint_url="http://127.0.0.1:9/send", api_key="k", api_secret="s", sender_id="邻里", timeout_seconds=1
    )
    with pytest.raises(SmsDeliveryError):
        await unreachable.send_sms(message_id="m-1", phone="13900000000", text="测试")
    await channel.send_sms(message_id="m-1", phone="13900000000", text="测试")
    await channel.send_sms(message_id="m-1", phone="13900000000", text="测试")
    assert list(gateway.accepted) == ["m-1"]


async def test_the_send_actor_texts_a_prompt_once_however_often_it_runs(client, gateway):
    c = await canteen(client)
    elder = await resident(client, c.setup, "独居的王奶奶")
    await proxy_booking(client, c, elder)
    event = await db.fetchrow("SELECT id, payload FROM outbox_events WHERE topic = 'sms.prompt_opened'")
    assert event is not None
    use_sms_channel(gateway.channel())
    for _ in range(2):
        await send_sms_prompt(str(event["id"]), json.loads(event["payload"]))
    assert len(gateway.requests) == 1 and len(gateway.accepted) == 1


async def test_a_reply_the_service_refuses_closes_the_prompt_and_changes_nothing_else(client):
    c = await canteen(client)
    elder = await resident(client, c.setup, "独居的王奶奶")
    booking = await proxy_booking(client, c, elder)
    (prompt,) = await prompts_of(elder)
    # The canteen cancelled the booking before the resident answered.
    r = await client.post(f"/api/v1/bookings/{booking['id']}/cancel", json={"reason": "停电"}, headers=c.staff.headers)
    assert r.status_code == 200, r.text
    places = await booked_places(c.slot_id)

    r = await reply(client, "gw-1", elder.phone, f"N {prompt['reply_code']}")
    assert r.status_code == 200 and r.json()["outcome"] == "invalid_transition"
    (prompt,) = await prompts_of(elder)
    assert prompt["answer"] == "N" and prompt["closed_at"] is not None
    assert await status_of(booking["id"]) == "cancelled" and await booked_places(c.slot_id) == places
