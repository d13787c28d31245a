"""Accounts and sign-in. Callers own the unit of work."""

from __future__ import annotations

from uuid import UUID

from linli import db, outbox
from linli.auth import ratelimit
from linli.auth.schemas import RegisterIn, TokenOut, UserOut
from linli.auth.security import create_access_token, hash_password, verify_password
from linli.errors import Conflict, DomainError, NotFound
from linli.settings import get_settings


class InvalidCredentials(DomainError):
    code = "invalid_credentials"


async def register(*, register_in: RegisterIn, is_platform_admin: bool = False) -> UserOut:
    """Create a resident account (and announce `user.registered`); 409 if the phone is taken."""
    password_hash = hash_password(register_in.password)
    row = await db.fetchrow(
        "INSERT INTO users (id, phone, name, password_hash, is_platform_admin, created_at)"
        " VALUES (gen_random_uuid(), $1, $2, $3, $4, now())"
        " ON CONFLICT (phone) DO NOTHING RETURNING id, phone, name",
        register_in.phone,
        register_in.name,
        password_hash,
        is_platform_admin,
    )
    if row is None:
        raise Conflict("phone number already registered", code="phone_taken")
    if register_in.community_id is not None:
        joined = await db.fetchval(
            "INSERT INTO community_memberships (id, community_id, user_id, role, created_at)"
            " SELECT gen_random_uuid(), c.id, $2, 'resident', now() FROM communities c WHERE c.id = $1"
            " RETURNING id",
            register_in.community_id,
            row["id"],
        )
        if joined is None:
            raise NotFound("no such community", code="community_not_found")
    await outbox.emit(topic="user.registered", payload={"user_id": str(row["id"]), "name": row["name"]})
    return UserOut(**dict(row))


async def issue_token(*, phone: str, password: str, client_ip: str) -> TokenOut:
    """Check the password (throttled per phone and IP) and issue an expiring bearer token."""
    await ratelimit.reserve_login_attempt(phone=phone, ip=client_ip)
    row = await db.fetchrow("SELECT id, password_hash FROM users WHERE phone = $1", phone)
    if not verify_password(row["password_hash"] if row else None, password) or row is None:
        await ratelimit.login_failed(ip=client_ip)
        raise InvalidCredentials("wrong phone number or password")
    await ratelimit.login_succeeded(phone=phone)
    return TokenOut(
        access_token=create_access_token(row["id"]),
        expires_in=int(get_settings().token_lifetime.total_seconds()),
    )


async def create_platform_admin(*, phone: str, password: str, name: str) -> UserOut:
    """Create a platform admin, or promote the existing account with this phone (password reset)."""
    existing = await db.fetchval("SELECT id FROM users WHERE phone = $1", phone)
    if existing is None:
        return await register(register_in=RegisterIn(phone=phone, password=password, name=name), is_platform_admin=True)
    row = await db.fetchrow(
        "UPDATE users SET is_platform_admin = true, password_hash = $2, name = $3 WHERE id = $1"
        " RETURNING id, phone, name",
        existing,
        hash_password(password),
        name,
    )
    return UserOut(**dict(row))  # type: ignore[arg-type]


async def get(*, user_id: UUID) -> UserOut:
    row = await db.fetchrow("SELECT id, phone, name FROM users WHERE id = $1", user_id)
    if row is None:
        raise NotFound("no such user", code="user_not_found")
    return UserOut(**dict(row))
