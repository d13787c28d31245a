"""Marketplace actors: notifications from outbox events, and the order escalation job.

Every notification is keyed by (user, event) in the inbox, so a redelivered event notifies nobody twice; the
escalation job's guarded UPDATE escalates each order once however often and wherever it runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from community import services as community_services
from linli import db
from linli.settings import get_settings
from marketplace import sms
from marketplace.services import bookings, holds, orders, waitlist
from notifications import services as notifications
from notifications.channels import sms_channel
from partners import services as partners
from workers.actor import actor
from workers.schedules import Schedule, every_seconds, register


async def _notify(
    user_ids: list[UUID], *, event_id: str, kind: str, title: str, body: str, data: dict[str, Any]
) -> None:
    for user_id in dict.fromkeys(user_ids):
        await notifications.create(
            user_id=user_id, kind=kind, title=title, body=body, source_key=f"event:{event_id}", data=data
        )


async def _community_staff(community_id: UUID) -> list[UUID]:
    return await community_services.staff_user_ids(community_id=community_id)


async def _local_time(moment: str, community_id: str) -> str:
    tz = await db.fetchval("SELECT timezone FROM communities WHERE id = $1", UUID(community_id))
    return datetime.fromisoformat(moment).astimezone(ZoneInfo(tz or "Asia/Shanghai")).strftime("%m月%d日 %H:%M")


async def _title_of(booking_id: UUID) -> str:
    title = await db.fetchval(
        "SELECT o.title FROM bookings b JOIN offerings o ON o.id = b.offering_id WHERE b.id = $1", booking_id
    )
    return str(title or "")


@actor(name="marketplace.notify_booking", topics=("booking.confirmed", "booking.cancelled"))
async def notify_booking(event_id: str, payload: dict[str, Any]) -> None:
    """Tell the resident their booking is confirmed (or promoted from the waitlist), or was cancelled for them."""
    booking_id = UUID(payload["booking_id"])
    resident_id = UUID(payload["resident_id"])
    async with db.unit_of_work():
        title = await _title_of(booking_id)
        data = {"booking_id": str(booking_id)}
        if "cancelled_by" in payload:
            if UUID(payload["cancelled_by"]) == resident_id:
                return
            reason = payload.get("reason") or ""
            await _notify(
                [resident_id],
                event_id=event_id,
                kind="booking.cancelled",
                title="预约已被取消",
                body=f"您预约的「{title}」已被取消。{('原因:' + reason) if reason else ''}",
                data=data,
            )
        elif payload.get("via") == "waitlist":
            await _notify(
                [resident_id],
                event_id=event_id,
                kind="waitlist.promoted",
                title="候补成功",
                body=f"您候补的「{title}」有了空位,已为您自动预约。",
                data=data,
            )
        elif payload.get("via") == "order":
            await _notify(
                [resident_id],
                event_id=event_id,
                kind="order.placed",
                title="下单成功",
                body=f"「{title}」订单已派给服务人员,请稍候。",
                data=data,
            )
        else:
            await _notify(
                [resident_id],
                event_id=event_id,
                kind="booking.confirmed",
                title="预约成功",
                body=f"您已成功预约「{title}」。",
                data=data,
            )


@actor(name="marketplace.notify_hold", topics=("booking.held", "booking.hold_expired"))
async def notify_hold(event_id: str, payload: dict[str, Any]) -> None:
    """Tell the first in line a place is held for them until when, or that the hold ran out and passed on."""
    booking_id = UUID(payload["booking_id"])
    async with db.unit_of_work():
        title = await _title_of(booking_id)
        if "hold_expires_at" in payload:
            until = await _local_time(payload["hold_expires_at"], payload["community_id"])
            kind, heading = "waitlist.offered", "候补有空位了,请确认"
            body = f"您候补的「{title}」有了空位,已为您保留至{until}。请在此之前确认预约,逾期名额将让给下一位。"
        else:
            kind, heading = "waitlist.hold_expired", "候补名额已过期"
            body = f"您未在保留时间内确认「{title}」,名额已让给下一位候补居民。"
        await _notify(
            [UUID(payload["resident_id"])],
            event_id=event_id,
            kind=kind,
            title=heading,
            body=body,
            data={"booking_id": str(booking_id)},
        )


@actor(name="marketplace.notify_order", topics=("order.dispatched", "order.escalated"))
async def notify_order(event_id: str, payload: dict[str, Any]) -> None:
    """Dispatch (and re-dispatch) an order to the partner's staff; alert community staff on escalation."""
    booking_id = UUID(payload["booking_id"])
    partner_id = UUID(payload["partner_id"])
    async with db.unit_of_work():
        title = await _title_of(booking_id)
        staff = await partners.member_user_ids(partner_id=partner_id)
        data = {"booking_id": str(booking_id), "round": payload.get("round", 1)}
        escalated = "community_id" in payload and payload.get("round", 1) > 1
        await _notify(
            staff,
            event_id=event_id,
            kind="order.redispatched" if escalated else "order.dispatched",
            title="订单超时未接,请尽快接单" if escalated else "新订单待接单",
            body=f"「{title}」有新的上门订单,请在1分钟内接单。",
            data=data,
        )
        if escalated:
            await _notify(
                await _community_staff(UUID(payload["community_id"])),
                event_id=event_id,
                kind="order.escalated",
                title="订单超时未接单提醒",
                body=f"「{title}」的订单超过接单时限仍未被接单,已重新派单。",
                data=data,
            )


@actor(name="marketplace.notify_complaint", topics=("complaint.filed", "complaint.handled", "complaint.resolved"))
async def notify_complaint(event_id: str, payload: dict[str, Any]) -> None:
    """Complaint updates: the partner hears of new and resolved complaints, the resident of the handling."""
    data = {"complaint_id": payload["complaint_id"], "booking_id": payload["booking_id"]}
    async with db.unit_of_work():
        if payload["step"] == "handled":
            users = [UUID(payload["resident_id"])]
            title, body = "投诉已处理", "您的投诉已有处理结果,请查看并评价是否满意。"
        else:
            users = await partners.member_user_ids(partner_id=UUID(payload["partner_id"]))
            title, body = {
                "filed": ("收到新的投诉", "居民提交了一条投诉,请及时处理。"),
                "resolved": ("投诉已办结", "居民已确认投诉办结。"),
            }[payload["step"]]
        await _notify(users, event_id=event_id, kind=f"complaint.{payload['step']}", title=title, body=body, data=data)


@actor(name="marketplace.slot_cancelled", topics=("slot.cancelled",))
async def on_slot_cancelled(event_id: str, payload: dict[str, Any]) -> None:
    """A partner cancelled a slot: its bookings are cancelled (and their residents notified) by the marketplace."""
    by = payload.get("cancelled_by")
    async with db.unit_of_work():
        await bookings.cancel_all_for_slot(
            slot_id=UUID(payload["slot_id"]),
            cancelled_by=UUID(by) if by else None,
            reason=payload.get("reason") or "服务时段已取消",
        )


@actor(
    name="marketplace.send_sms_prompt",
    topics=(sms.PROMPT_OPENED,),
    # A gateway outage is retried soon, then less and less often; the prompt's id keeps every retry one text.
    min_backoff=1_000,
    max_backoff=5 * 60 * 1000,
    max_retries=20,
)
async def send_sms_prompt(event_id: str, payload: dict[str, Any]) -> None:
    """Text a resident the yes/no question of a prompt (once: the gateway deduplicates on the prompt's id).

    The gateway is called outside any transaction (no connection is held while it answers); a failure raises
    `SmsDeliveryError` and Dramatiq retries. A crash between the gateway's acceptance and `mark_sent` sends the
    same message id again, which the gateway drops.
    """
    prompt_id = UUID(payload["prompt_id"])
    async with db.unit_of_work():
        due = await sms.due_message(prompt_id)
    if due is None:
        return
    phone, text = due
    await sms_channel().send_sms(message_id=str(prompt_id), phone=phone, text=text)
    async with db.unit_of_work():
        await sms.mark_sent(prompt_id)


async def _in_one_unit(job: Callable[[], Awaitable[list[UUID]]]) -> list[str]:
    async with db.unit_of_work():
        done = await job()
    return [str(i) for i in done]


@actor(name="marketplace.promote_waitlists")
async def promote_waitlists(slot: str = "") -> list[str]:
    """Periodic: hand out places whose promotion was held back (offering paused, partner suspended)."""
    return await _in_one_unit(waitlist.promote_held_back)


@actor(name="marketplace.expire_holds")
async def expire_holds(slot: str = "") -> list[str]:
    """Periodic: end waitlist holds nobody confirmed in time and offer the places to the next in line."""
    return await _in_one_unit(holds.expire_due)


@actor(name="marketplace.close_sms_prompts")
async def close_sms_prompts(slot: str = "") -> list[str]:
    """Periodic: close SMS prompts whose time is up (their reply codes become free for new prompts)."""
    return await _in_one_unit(sms.close_expired)


@actor(name="marketplace.escalate_orders")
async def escalate_orders(slot: str = "") -> list[str]:
    """Periodic: escalate orders not accepted within the accept target (each exactly once)."""
    return await _in_one_unit(orders.escalate_overdue)


# Each runs once per period across all workers (workers.schedules claims the slot), every few seconds so that
# an order nobody accepted, a hold that ran out or a held-back place moves on promptly.
for _name in (
    "marketplace.escalate_orders",
    "marketplace.expire_holds",
    "marketplace.promote_waitlists",
    "marketplace.close_sms_prompts",
):
    register(Schedule(name=_name, actor_name=_name, slot=every_seconds(get_settings().order_escalation_every_seconds)))
