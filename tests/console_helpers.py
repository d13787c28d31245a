"""The console as a browser would use it, in-process: an HTTPS client keeping cookies, which fetches each form
page for its CSRF token before posting, as a browser would."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tests.api import Person

_CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


class Browser:
    """One person's cookie jar against the app, in-process."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(path, **kwargs)

    async def csrf(self, path: str) -> str:
        page = await self.client.get(path)
        found = _CSRF.search(page.text)
        assert found, f"no CSRF field on {path} ({page.status_code})"
        return found.group(1)

    async def submit(self, form_page: str, action: str, data: dict[str, Any], **kwargs: Any) -> httpx.Response:
        """Fill in the form found on `form_page` and post it to `action`, as pressing its button does."""
        token = await self.csrf(form_page)
        return await self.client.post(action, data={**data, "_csrf_token": token}, **kwargs)

    async def sign_in(self, person: Person) -> None:
        r = await self.submit("/login", "/login", {"phone": person.phone, "password": person.password})
        assert r.status_code == 303, r.text


@asynccontextmanager
async def browser(app: Any, *, language: str = "zh-CN") -> AsyncIterator[Browser]:
    transport = httpx.ASGITransport(app=app, client=("10.1.2.4", 5555))
    async with httpx.AsyncClient(
        transport=transport, base_url="https://testserver.local", headers={"Accept-Language": language}
    ) as c:
        yield Browser(c)


@asynccontextmanager
async def signed_in(app: Any, person: Person, *, language: str = "zh-CN") -> AsyncIterator[Browser]:
    async with browser(app, language=language) as b:
        await b.sign_in(person)
        yield b
