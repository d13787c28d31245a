"""Passwords (argon2) and bearer tokens (Litestar's JWT auth)."""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, ClassVar, Self, cast
from uuid import UUID

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException
from litestar.security.jwt import JWTAuth, Token
from litestar.types import Scope

from linli import db
from linli.auth.callers import CALLERS
from linli.settings import get_settings


@lru_cache
def _hasher() -> PasswordHasher:
    settings = get_settings()
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )


@lru_cache
def _dummy_hash() -> str:
    # Verifying against a throwaway hash when the phone is unknown keeps login timing the same either way.
    return _hasher().hash("linli-dummy-password")


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher().verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


class VerifiedToken(Token):
    """A JWT whose signature check is remembered per token string, so each request pays only the expiry check.

    Verifying (PyJWT: base64, JSON, HMAC, claims) costs ~90 µs, about a tenth of a booking request. A token
    string that once verified with this process's secret stays valid until its `exp`, which is checked on every
    use; the cache key is the whole string, signature included, so nothing unverified is ever accepted.
    """

    _verified: ClassVar[OrderedDict[tuple[str, str, str], Token]] = OrderedDict()
    _capacity: ClassVar[int] = 10_000

    @classmethod
    def decode(cls, encoded_token: str, secret: str, algorithm: str, *args: Any, **kwargs: Any) -> Self:
        if args or any(kwargs.get(k) for k in ("audience", "issuer", "require_claims", "strict_audience")):
            return super().decode(encoded_token, secret, algorithm, *args, **kwargs)
        key = (encoded_token, secret, algorithm)
        token = cls._verified.get(key)
        if token is None or token.exp <= datetime.now(UTC):
            token = super().decode(encoded_token, secret, algorithm, **kwargs)  # raises when invalid or expired
            cls._verified[key] = token
            if len(cls._verified) > cls._capacity:
                cls._verified.popitem(last=False)
        return token  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class CurrentUser:
    """Who is calling; a change to their row reaches every process at once (linli.auth.callers)."""

    id: UUID
    phone: str
    name: str
    is_platform_admin: bool


# How a handler asks for its caller: `user: Caller` (Litestar's explicit named dependency, provided by the app).
Caller = NamedDependency[CurrentUser]


async def load_user(user_id: UUID) -> CurrentUser | None:
    """The caller as the database has them now (through the per-process cache that user changes invalidate)."""
    cached = CALLERS.get(user_id)
    if cached is not None:
        return cast(CurrentUser, cached)
    generation = CALLERS.generation
    row = await db.fetchrow("SELECT id, phone, name, is_platform_admin FROM users WHERE id = $1", user_id)
    if row is None:
        return None
    user = CurrentUser(**dict(row))
    CALLERS.put(user_id, user, generation=generation)
    return user


async def _retrieve_user(
    token: Token, connection: ASGIConnection[Any, Any, Any, Any] | None = None
) -> CurrentUser | None:
    try:
        user_id = UUID(token.sub)
    except ValueError:
        return None
    return await load_user(user_id)


# Paths that need no token (sign-up, sign-in, health, the schema; the SMS gateway's webhook, which is
# authenticated by its HMAC signature instead: marketplace.sms_webhook).
PUBLIC_PATH = re.compile(
    "^/schema|^/health|^/api/v1/auth/register$|^/api/v1/auth/token$|^/api/v1/public/|^/api/v1/sms/inbound$",
)
# A route handler marked `public=True` needs no token either.
PUBLIC_OPT_KEY = "public"


def is_public(path: str, handler: Any) -> bool:
    """Whether a request to `path`, served by route handler `handler` (if known), needs no token: the one rule
    the authenticator applies and the OpenAPI document states."""
    return bool((handler is not None and handler.opt.get(PUBLIC_OPT_KEY)) or PUBLIC_PATH.match(path))


def build_jwt_auth() -> JWTAuth[CurrentUser, Token]:
    """Litestar's JWT configuration, which signs our tokens (`create_access_token`); requests are checked by
    `Authenticator`, not by its middleware."""
    settings = get_settings()
    return JWTAuth[CurrentUser, Token](
        retrieve_user_handler=_retrieve_user,
        token_cls=VerifiedToken,
        token_secret=settings.secret_key.get_secret_value(),
        default_token_expiration=settings.token_lifetime,
    )


def bearer_token(scope: Scope) -> str | None:
    """The token in the request's Authorization header, None without one. As in Litestar's JWT middleware the
    scheme word is not checked: the token is what follows the first space."""
    for name, value in scope["headers"]:  # ASGI servers hand header names over in lower case
        if name == b"authorization":
            return value.decode("latin-1").partition(" ")[2].strip()
    return None


class Authenticator:
    """Who is calling: every request to a route that is not public carries `Authorization: Bearer <JWT>` of a
    known user, or is refused with 401 before its handler runs.

    The rules Litestar's JWT middleware applied (HS256 with the settings' secret, `exp` checked, `PUBLIC_PATH`,
    `public=True` handlers and OPTIONS exempt, `scope["user"]` and `scope["auth"]` set), run by the app's one
    request middleware (`server.app`) instead of as a layer of their own: that layer parsed every header into a
    Litestar `Headers` and wrapped the request in an `ASGIConnection` on each request.
    """

    __slots__ = ("_secret",)

    def __init__(self, *, secret: str) -> None:
        self._secret = secret

    async def __call__(self, scope: Scope) -> None:
        """Put the caller in `scope`, or raise NotAuthorizedException (401 `unauthorized` / `token_invalid`)."""
        if scope.get("method") == "OPTIONS" or is_public(scope["path"], scope.get("route_handler")):
            return
        encoded = bearer_token(scope)
        if encoded is None:
            raise NotAuthorizedException("No JWT token found in request header")
        token = VerifiedToken.decode(encoded, self._secret, "HS256")  # raises NotAuthorizedException if invalid
        user = await _retrieve_user(token)
        if user is None:
            raise NotAuthorizedException()
        scope["user"] = user
        scope["auth"] = token


def create_access_token(user_id: UUID) -> str:
    settings = get_settings()
    return build_jwt_auth().create_token(identifier=str(user_id), token_expiration=settings.token_lifetime)


async def user_of_token(encoded: str | None) -> CurrentUser | None:
    """The user a token names, None when there is none or it is forged or expired (same checks as requests)."""
    if not encoded:
        return None
    try:
        token = VerifiedToken.decode(encoded, secret=get_settings().secret_key.get_secret_value(), algorithm="HS256")
    except NotAuthorizedException:
        return None
    return await _retrieve_user(token)


async def optional_user(request: Any) -> CurrentUser | None:
    """For public endpoints that say more to a signed-in caller (e.g. "subsidised for me")."""
    return await user_of_token(bearer_token(request.scope))
