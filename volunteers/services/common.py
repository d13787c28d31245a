"""Error codes, loaders and the object-level access checks shared by the volunteers services."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from community import access
from linli import db
from linli.auth.security import CurrentUser
from linli.errors import Forbidden, NotFound, register_code

VOLUNTEER_NOT_FOUND = register_code("volunteer_not_found", 404, "志愿者不存在", "No such volunteer")
VOLUNTEER_EXISTS = register_code(
    "volunteer_exists", 409, "您在该社区已有志愿者档案", "You already have a volunteer profile in this community"
)
NOT_A_VOLUNTEER = register_code(
    "not_a_volunteer", 403, "请先登记为本社区志愿者", "Register as a volunteer of this community first"
)
UNKNOWN_SKILL = register_code("unknown_skill", 422, "技能不在本社区技能目录中", "Unknown skill code")
SKILL_EXISTS = register_code("skill_exists", 409, "该技能代码已存在", "This skill code exists")
GRID_NOT_FOUND = register_code("grid_not_found", 404, "网格不存在", "No such grid")
TASK_NOT_FOUND = register_code("task_not_found", 404, "志愿任务不存在", "No such task")
TASK_FULL = register_code("task_full", 409, "该任务人数已满", "This task is full")
TASK_TIMES_INVALID = register_code(
    "task_times_invalid", 422, "任务时间须在前后一年之内", "A task must start within a year of now"
)
BATCH_WINDOW_INVALID = register_code(
    "batch_window_invalid", 422, "批量派单的截止时间须在将来", "A batch's `until` must be in the future"
)
ASSIGNMENT_NOT_FOUND = register_code("assignment_not_found", 404, "派单不存在", "No such assignment")
OFFER_EXPIRED = register_code("offer_expired", 409, "邀请已过期", "This offer has expired")
NO_LONGER_ELIGIBLE = register_code(
    "no_longer_eligible", 409, "您已不符合该任务的条件", "You no longer meet this task's requirements"
)
SELF_APPROVAL = register_code(
    "self_approval", 403, "不能审核自己的服务时长", "You cannot approve your own volunteer hours"
)
REVIEW_REQUIRED = register_code(
    "review_required", 409, "系统自动签退,请核实并填写服务时长", "Checked out automatically: confirm the minutes"
)
CHECK_IN_CODE_INVALID = register_code("check_in_code_invalid", 422, "签到码错误或已过期", "Wrong or expired code")
CHECK_IN_TOO_EARLY = register_code("check_in_too_early", 409, "尚未到签到时间", "Too early to check in")
COORDINATOR_NOT_FOUND = register_code(
    "coordinator_not_found",
    404,
    "协调人不是本社区或该合伙人的成员",
    "The coordinator is not a member of this community or partner",
)
TEAM_NOT_FOUND = register_code("team_not_found", 404, "志愿服务队不存在", "No such team")
TEAM_NAME_TAKEN = register_code("team_name_taken", 409, "服务队名称已存在", "A team with this name exists")
NOT_TEAM_MEMBER = register_code("not_team_member", 409, "该志愿者不是本队成员", "Not a member of this team")
# Same meaning as the partners package's code; declared here too so this package works on its own.
PARTNER_NOT_FOUND = register_code("partner_not_found", 404, "合伙人不存在", "No such partner")
PARTNER_NOT_ALLOWED = register_code(
    "task_creator_not_allowed", 403, "只有社区工作人员或合伙人管理员可发布任务", "Only staff or partner admins"
)


def _row(row: asyncpg.Record | None, code: str, what: str) -> asyncpg.Record:
    if row is None:
        raise NotFound(f"no such {what}", code=code)
    return row


async def load_volunteer(volunteer_id: UUID, *, for_update: bool = False) -> asyncpg.Record:
    lock = " FOR UPDATE" if for_update else ""
    row = await db.fetchrow(
        "SELECT v.*, u.name FROM volunteer_profiles v JOIN users u ON u.id = v.user_id WHERE v.id = $1" + lock,
        volunteer_id,
    )
    return _row(row, VOLUNTEER_NOT_FOUND, "volunteer")


async def volunteer_of(user: CurrentUser, community_id: UUID) -> asyncpg.Record:
    """The caller's own profile in the community (403 when they have none)."""
    row = await db.fetchrow(
        "SELECT v.*, u.name FROM volunteer_profiles v JOIN users u ON u.id = v.user_id"
        " WHERE v.community_id = $1 AND v.user_id = $2",
        community_id,
        user.id,
    )
    if row is None:
        raise Forbidden("register as a volunteer here first", code=NOT_A_VOLUNTEER)
    return row


async def load_task(task_id: UUID, *, for_update: bool = False) -> asyncpg.Record:
    lock = " FOR UPDATE" if for_update else ""
    row = await db.fetchrow("SELECT * FROM volunteer_tasks WHERE id = $1" + lock, task_id)
    return _row(row, TASK_NOT_FOUND, "task")


async def load_assignment(assignment_id: UUID, *, for_update: bool = False) -> asyncpg.Record:
    lock = " FOR UPDATE OF a" if for_update else ""
    row = await db.fetchrow(
        "SELECT a.*, v.user_id AS volunteer_user_id FROM volunteer_assignments a"
        " JOIN volunteer_profiles v ON v.id = a.volunteer_id WHERE a.id = $1" + lock,
        assignment_id,
    )
    return _row(row, ASSIGNMENT_NOT_FOUND, "assignment")


async def require_self_or_staff(user: CurrentUser, volunteer: asyncpg.Record) -> None:
    """A volunteer's private data: the volunteer, or staff of their community (others get 404)."""
    if volunteer["user_id"] == user.id:
        return
    if not await access.has_role(user, volunteer["community_id"], "staff"):
        raise NotFound("no such volunteer", code=VOLUNTEER_NOT_FOUND)


async def require_member(user: CurrentUser, community_id: UUID) -> None:
    """Residents and staff of the community (staff do not hold the resident role by default)."""
    if await access.has_role(user, community_id, "staff") or await access.has_role(user, community_id, "resident"):
        return
    await access.require_role(user, community_id, "resident")


async def may_coordinate(user: CurrentUser, task: asyncpg.Record) -> bool:
    """Owner, named coordinator, or staff of the task's community."""
    if user.id in (task["owner_user_id"], task["coordinator_user_id"]):
        return True
    return await access.has_role(user, task["community_id"], "staff")


async def require_coordinator(user: CurrentUser, task: asyncpg.Record) -> None:
    if not await may_coordinate(user, task):
        if not await access.has_role(user, task["community_id"], "resident"):
            raise NotFound("no such task", code=TASK_NOT_FOUND)
        raise Forbidden("only the task's owner or coordinator may do this")


async def require_own_assignment(user: CurrentUser, assignment: asyncpg.Record) -> None:
    """Only the offered volunteer acts on an offer; to anyone else it does not exist."""
    if assignment["volunteer_user_id"] != user.id:
        raise NotFound("no such assignment", code=ASSIGNMENT_NOT_FOUND)


def as_dict(row: asyncpg.Record) -> dict[str, Any]:
    return dict(row)
