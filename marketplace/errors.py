"""The marketplace's stable error codes, declared once (zh + en titles)."""

from linli.errors import register_code
from partners.offerings import OFFERING_NOT_BOOKABLE, OFFERING_NOT_FOUND
from scheduling.services import SLOT_NOT_FOUND

# Codes declared by the packages that own the concept, re-exported for the marketplace's own use.

SLOT_FULL = register_code("slot_full", 409, "该时段已约满", "This slot is full")
SLOT_NOT_BOOKABLE = register_code(
    "slot_not_bookable",
    409,
    "该时段已取消、已开始或预约时间不足",
    "This slot is cancelled, started or too soon to book",
)
QUANTITY_EXCEEDS_CAPACITY = register_code(
    "quantity_exceeds_capacity", 422, "预约数量超过时段容量", "The quantity exceeds the slot's capacity"
)
BOOKING_NOT_FOUND = register_code("booking_not_found", 404, "预约不存在", "No such booking")
RESIDENT_NOT_FOUND = register_code(
    "resident_not_found", 404, "该居民不属于本社区", "No such resident in this community"
)
CANCEL_CUTOFF_PASSED = register_code(
    "cancel_cutoff_passed", 409, "已过取消截止时间", "The cancellation cutoff has passed"
)
SLOT_NOT_STARTED = register_code("slot_not_started", 409, "服务时段尚未开始", "The slot has not started yet")
SLOT_HAS_PLACES = register_code(
    "slot_has_places", 409, "该时段仍有名额,请直接预约", "This slot still has places; book it directly"
)
ALREADY_WAITLISTED = register_code("already_waitlisted", 409, "您已在候补名单中", "You are already on this waitlist")
WAITLIST_ENTRY_NOT_FOUND = register_code("waitlist_entry_not_found", 404, "没有候补记录", "No waitlist entry")
HOLD_EXPIRED = register_code(
    "hold_expired", 409, "保留时间已过,名额已让给下一位", "The hold has expired; the place has passed on"
)
ORDER_NOT_FOUND = register_code("order_not_found", 404, "订单不存在", "No such order")
BOOKING_NOT_COMPLETED = register_code(
    "booking_not_completed", 409, "服务完成后才能评价", "Only a completed booking can be reviewed"
)
REVIEW_EXISTS = register_code("review_exists", 409, "该预约已评价", "This booking has already been reviewed")
REVIEW_NOT_FOUND = register_code("review_not_found", 404, "尚无评价", "No review yet")
COMPLAINT_NOT_FOUND = register_code("complaint_not_found", 404, "投诉不存在", "No such complaint")

__all__ = [
    "ALREADY_WAITLISTED",
    "BOOKING_NOT_COMPLETED",
    "BOOKING_NOT_FOUND",
    "CANCEL_CUTOFF_PASSED",
    "COMPLAINT_NOT_FOUND",
    "HOLD_EXPIRED",
    "OFFERING_NOT_BOOKABLE",
    "OFFERING_NOT_FOUND",
    "ORDER_NOT_FOUND",
    "QUANTITY_EXCEEDS_CAPACITY",
    "RESIDENT_NOT_FOUND",
    "REVIEW_EXISTS",
    "REVIEW_NOT_FOUND",
    "SLOT_FULL",
    "SLOT_HAS_PLACES",
    "SLOT_NOT_BOOKABLE",
    "SLOT_NOT_FOUND",
    "SLOT_NOT_STARTED",
    "WAITLIST_ENTRY_NOT_FOUND",
]
