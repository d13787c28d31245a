"""Signing up and in through the web console: the same accounts, tokens and error titles as the API."""

from __future__ import annotations

from typing import Any

from tests.api import community_with_staff, sign_up
from tests.conftest import next_phone
from tests.console_helpers import browser, signed_in


async def test_a_new_resident_signs_up_in_their_community_and_lands_on_the_start_page(app: Any, client: Any) -> None:
    setup = await community_with_staff(client, "光阳社区")
    async with browser(app) as b:
        form = await b.get("/signup")
        assert form.status_code == 200 and "光阳社区" in form.text
        phone = next_phone()
        r = await b.submit(
            "/signup",
            "/signup",
            {"name": "王奶奶", "phone": phone, "password": "long-enough-1", "community_id": setup.id},
        )
        assert r.status_code == 303 and r.headers["location"] == "/"
        cookie = r.headers["set-cookie"]
        assert "linli_session=" in cookie and "HttpOnly" in cookie and "Secure" in cookie
        assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
        home = await b.get("/")
        assert "您好,王奶奶" in home.text and "/catalog" in home.text
    me = await client.post("/api/v1/auth/token", json={"phone": phone, "password": "long-enough-1"})
    assert me.status_code == 200  # the console made an ordinary account


async def test_a_wrong_password_is_shown_next_to_the_field_with_the_apis_title(app: Any, client: Any) -> None:
    person = await sign_up(client, "李大爷")
    async with browser(app) as b:
        r = await b.submit("/login", "/login", {"phone": person.phone, "password": "not-my-password"})
        assert r.status_code == 400
        assert 'id="e-password"' in r.text and "手机号或密码错误" in r.text
        assert "not-my-password" not in r.text
        r = await b.submit("/login", "/login", {"phone": "12345", "password": "x"})
        assert 'id="e-phone"' in r.text and "提交的数据不符合要求" in r.text
    async with browser(app, language="en") as b:
        r = await b.submit("/login", "/login", {"phone": person.phone, "password": "not-my-password"})
        assert "Wrong phone number or password" in r.text and "Sign in" in r.text


async def test_a_taken_phone_number_is_refused_and_nothing_is_written(app: Any, client: Any) -> None:
    person = await sign_up(client, "李大爷")
    async with browser(app) as b:
        r = await b.submit("/signup", "/signup", {"name": "冒名者", "phone": person.phone, "password": "long-enough-1"})
        assert r.status_code == 400 and 'id="e-phone"' in r.text and "该手机号已注册" in r.text
        assert "冒名者" in r.text  # what was typed stays in the form


async def test_a_form_without_its_csrf_token_is_refused(app: Any, client: Any) -> None:
    person = await sign_up(client, "李大爷")
    async with browser(app) as b:
        await b.get("/login")  # the CSRF cookie is set, but the form's token is left out
        r = await b.client.post("/login", data={"phone": person.phone, "password": person.password})
        assert r.status_code == 403 and "页面已过期" in r.text
        assert "linli_session" not in r.headers.get("set-cookie", "")


async def test_pages_that_need_a_session_send_the_visitor_to_sign_in_and_back(app: Any, client: Any) -> None:
    person = await sign_up(client, "李大爷")
    async with browser(app) as b:
        r = await b.get("/account")
        assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Faccount"
        r = await b.submit(
            "/login?next=%2Faccount", "/login", {"phone": person.phone, "password": person.password, "next": "/account"}
        )
        assert r.headers["location"] == "/account"
        assert "我的账号" in (await b.get("/account")).text
        r = await b.submit(
            "/login", "/login", {"phone": person.phone, "password": person.password, "next": "https://evil.example/"}
        )
        assert r.headers["location"] == "/"


async def test_signing_out_ends_the_session(app: Any, client: Any) -> None:
    person = await sign_up(client, "李大爷")
    async with signed_in(app, person) as b:
        assert "您好,李大爷" in (await b.get("/")).text
        r = await b.submit("/", "/logout", {})
        assert r.status_code == 303
        assert "您好" not in (await b.get("/")).text
