"""What every request body has in common: `Input`, the base of each domain's request models.

PostgreSQL text cannot hold NUL (U+0000), while JSON can ("\\u0000"). A NUL that reached a query would fail
in the database as a 500, after the request may have done part of its work. `Input` refuses it in every text
field of the body, in lists and in dict keys too, so the client gets a 422 naming the field instead.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, field_validator

NUL = "\x00"
# The same rule for free text in query parameters: `QueryParameter(pattern=NUL_FREE)`.
NUL_FREE = r"^[^\x00]*$"


def has_nul(value: Any) -> bool:
    """True if `value` is text with a NUL in it, or a list/set/dict holding such text (nested models check
    themselves)."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    return False


class Input(BaseModel):
    """A request body. Derive every request model (and the models nested in one) from this."""

    @field_validator("*")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        if has_nul(value):
            raise ValueError("must not contain NUL characters")
        return value
