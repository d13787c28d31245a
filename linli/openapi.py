"""The error model in the OpenAPI document: every operation may answer with an RFC 9457 problem (linli.errors).

Litestar documents only a 400 of its own shape (`status_code`, `detail`, as application/json), which is not
what the app sends, and none of the 401/403/404/409/422/429/503 every route can answer. `document_problems`
gives each route of the document the statuses of the one error model, as application/problem+json, unless
the route already says something for that status.

`TimeOfDay` documents a `datetime.time` as what it is on the wire, a local time of day "11:30:00" (or "11:30" in
a request): Litestar calls it a `duration` ("PT11H30M"), and JSON Schema's `time` format requires an offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from http import HTTPStatus
from typing import Any

from litestar import Litestar
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.plugins import OpenAPISchemaPlugin
from litestar.routes import HTTPRoute
from litestar.typing import FieldDefinition

from linli.auth.security import is_public
from linli.errors import PROBLEM_JSON

BEARER = "BearerToken"  # the security scheme's name in the document's components

# What the app-wide error handlers answer (linli.errors._http_handler and the domains' codes), whatever the route:
# a body that does not parse, no or a bad token, someone else's object, the state refusing, bad input, too many
# attempts, too large a body or a media type other than JSON, and the database or Redis out of reach.
PROBLEM_STATUSES = (400, 401, 403, 404, 409, 413, 415, 422, 429, 503)


@dataclass
class FieldError:
    key: str
    message: str


@dataclass
class Problem:
    """RFC 9457 problem details; `code` is the stable machine code, `title` follows Accept-Language."""

    type: str
    title: str
    status: int
    code: str
    instance: str
    request_id: str
    detail: str | None = None
    errors: list[FieldError] | None = None  # validation_error: which field and why


def problem_responses() -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_JSON,
            description=f"{HTTPStatus(status).phrase} (problem+json; `code` says which)",
            generate_examples=False,
        )
        for status in PROBLEM_STATUSES
    }


def document_problems(app: Litestar) -> None:
    """Give every documented route handler the error model's answers, and those that need a token the bearer
    scheme (public ones none: sign-up, sign-in, health, disclosure, the SMS webhook), before the document is
    first built."""
    problems = problem_responses()
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            own: dict[int, Any] = dict(handler.responses or {})
            handler.responses = {**problems, **own}
            if not is_public(route.path, handler):
                handler.security = [{BEARER: []}]


class TimeOfDay(OpenAPISchemaPlugin):
    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return value is time

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        return Schema(
            type=OpenAPIType.STRING,
            pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
            description="local time of day, HH:MM or HH:MM:SS",
            examples=["11:30:00"],
        )
