"""Volunteer service certificates (志愿服务证明) as the national record rules expect them: every approved record
on the PDF, a QR code anyone can follow to verify it, revocation instead of edits, no certificate for no
service, and the full identity number never leaving the server."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from pypdf import PdfReader

from linli import db
from linli.settings import get_settings
from tests.api import community_with_staff, sign_up
from tests.conftest import process_env
from tests.harness import live_api
from tests.volunteers_api import (
    UNDER_WAY,
    accepted_offer,
    act,
    catalog,
    certificate_issuer,
    id_number,
    real_name,
    volunteer,
)
from volunteers import identity

HE_ID = id_number("19900307", 123)


async def _approved(client, setup, person, minutes, *, days_ago: int = 0, **task_kw):
    """An assignment served and approved for `minutes`; `days_ago` moves the task back in time."""
    t, assignment = await accepted_offer(client, setup, person, **{"starts_in": UNDER_WAY, **task_kw})
    await act(client, person, assignment, "check-in")
    await act(client, person, assignment, "check-out")
    r = await act(client, setup.staff, assignment, "approve", {"minutes": minutes})
    assert r.status_code == 200, r.text
    if days_ago:
        await db.execute(
            "UPDATE volunteer_tasks SET starts_at = starts_at - $2::interval, ends_at = ends_at - $2::interval"
            " WHERE id = $1",
            UUID(t["id"]),
            timedelta(days=days_ago),
        )
    return assignment


async def _ready(client):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    await certificate_issuer(client, setup, contact="0898-6529 1234(社区党群服务中心)")
    return setup


def _pdf_pages(content: bytes) -> list[str]:
    """Each page's text without whitespace. pypdf reads fpdf2's embedded CJK font with a NUL before every
    character (poppler's pdftotext does not), so those go too."""
    reader = PdfReader(io.BytesIO(content))
    return ["".join(page.extract_text().replace("\x00", "").split()) for page in reader.pages]


def _qr_of_first_page(content: bytes, tmp_path: Path) -> str:
    """The text of the QR code on page 1, rendered as an image by poppler and decoded by zxing-cpp."""
    import zxingcpp
    from PIL import Image

    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed; .ci/run installs it")
    pdf = tmp_path / "certificate.pdf"
    pdf.write_bytes(content)
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(tmp_path / "page1")],
        check=True,
    )
    found = zxingcpp.read_barcodes(Image.open(tmp_path / "page1.png"))
    codes = [b.text for b in found if b.format == zxingcpp.BarcodeFormat.QRCode]
    assert len(codes) == 1, found
    return codes[0]


def _today():
    return datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()  # the community's local date


async def _certificate_rows() -> int:
    return int(await db.fetchval("SELECT count(*) FROM volunteer_service_certificates"))


async def test_every_approved_record_is_on_the_certificate_and_its_qr_code_verifies_it(client, tmp_path):
    setup = await _ready(client)
    he, profile = await volunteer(client, setup, "何小慧")
    await real_name(client, he, profile, "何志愿", HE_ID)
    services = [("爱心食堂午餐配送", 150, 30), ("陪同独居老人就诊", 95, 12), ("社区夜间巡逻", 240, 0)]
    for title, minutes, days_ago in services:
        await _approved(client, setup, he, minutes, title=title, days_ago=days_ago)
    r = await client.post(f"/api/v1/volunteers/{profile['id']}/service-certificates", headers=setup.staff.headers)
    assert r.status_code == 201, r.text
    cert = r.json()
    total = 150 + 95 + 240
    assert cert["approved_minutes"] == total and cert["lifetime_minutes"] == total
    assert cert["record_count"] == 3 and cert["status"] == "valid"
    assert cert["holder_name"] == "何志愿"
    assert cert["holder_id_masked"] == HE_ID[:4] + "*" * 10 + HE_ID[-4:]
    assert cert["issued_by_name"] == "网格员小李"
    today = _today()
    assert cert["period_to"] == str(today)
    assert cert["period_from"] <= str(today - timedelta(days=29))  # the oldest record opens the period

    r = await client.get(f"/api/v1/service-certificates/{cert['id']}/pdf", headers=he.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    (text,) = _pdf_pages(r.content)
    for title, _, _ in services:
        assert title in text
    for duration in ("2小时30分钟", "1小时35分钟", "4小时"):
        assert duration in text
    assert "合计8小时5分钟" in text  # the table's total row; 485 minutes
    assert "何志愿" in text and cert["holder_id_masked"] in text and HE_ID not in text
    assert cert["serial_no"] in text and cert["check_code"] in text
    for fact in ("出具单位:光阳社区居民委员会", "0898-65291234", "经办人:网格员小李", "盖章", "第1页/共1页"):
        assert fact in text, fact

    url = _qr_of_first_page(r.content, tmp_path)
    assert url == cert["verification_url"]
    assert url.startswith(get_settings().public_base_url + "/verify/")
    parts = urlsplit(url)
    # The QR opens the console's page for people (no sign-in) ...
    page = await client.get(f"{parts.path}?{parts.query}")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "这份证明真实有效" in page.text and "何*愿" in page.text and "何志愿" not in page.text
    # ... and machines ask the API the same question.
    parts = urlsplit(url.replace("/verify/", "/api/v1/public/certificates/"))
    answer = await client.get(f"{parts.path}?{parts.query}")  # no token: anyone may verify
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "serial_no": cert["serial_no"],
        "status": "valid",
        "holder_masked_name": "何*愿",
        "period_from": cert["period_from"],
        "period_to": cert["period_to"],
        "approved_minutes": total,
        "star_level": 0,
        "issuing_community": "光阳社区",
        "issuer_organisation": "光阳社区居民委员会",
        "issued_on": str(today),
        "revoked_at": None,
        "revoke_reason": None,
    }
    # A wrong code, no code and an unknown serial are the same 404: serials cannot be enumerated.
    unknown = await client.get("/api/v1/public/certificates/LLZY-2026-999999?code=ABCDEFGH")
    wrong_code = "2" * 8 if cert["check_code"] != "2" * 8 else "3" * 8
    for probe in (
        f"{parts.path}?code={wrong_code}",
        parts.path,
        f"{parts.path}?code={cert['check_code'].lower()}x",
    ):
        r = await client.get(probe)
        assert r.status_code == 404, probe
        assert r.json()["code"] == unknown.json()["code"] == "service_certificate_not_found"
    assert (await client.get(f"{parts.path}?code={cert['check_code'].lower()}")).status_code == 200


async def test_only_the_volunteer_and_their_communitys_staff_may_download(client):
    setup = await _ready(client)
    he, profile = await volunteer(client, setup, "何志愿")
    await real_name(client, he, profile, "何志愿", HE_ID)
    await _approved(client, setup, he, 60)
    r = await client.post(f"/api/v1/volunteers/{profile['id']}/service-certificates", headers=he.headers)
    assert r.status_code == 403  # a volunteer does not certify themself
    # A retried request (same Idempotency-Key) gets the first certificate back, not a second one.
    keyed = {**setup.staff.headers, "Idempotency-Key": "issue-he-1"}
    first = await client.post(f"/api/v1/volunteers/{profile['id']}/service-certificates", headers=keyed)
    retry = await client.post(f"/api/v1/volunteers/{profile['id']}/service-certificates", headers=keyed)
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json() and await _certificate_rows() == 1
    cert = first.json()
    neighbour, _ = await volunteer(client, setup, "邻居志愿者")
    elsewhere = await community_with_staff(client, "海秀社区")
    stranger = await sign_up(client, "路人")
    for who, status in ((he, 200), (setup.staff, 200), (neighbour, 404), (elsewhere.staff, 404), (stranger, 404)):
        pdf = await client.get(f"/api/v1/service-certificates/{cert['id']}/pdf", headers=who.headers)
        one = await client.get(f"/api/v1/service-certificates/{cert['id']}", headers=who.headers)
        assert (pdf.status_code, one.status_code) == (status, status), who.name
    listed = await client.get(f"/api/v1/volunteers/{profile['id']}/service-certificates", headers=he.headers)
    assert [c["serial_no"] for c in listed.json()] == [cert["serial_no"]]
    r = await client.get(f"/api/v1/volunteers/{profile['id']}/service-certificates", headers=neighbour.headers)
    assert r.status_code == 404


async def test_a_wrong_certificate_is_revoked_never_edited_and_a_new_one_issued(client, tmp_path):
    setup = await _ready(client)
    he, profile = await volunteer(client, setup, "何志愿")
    await real_name(client, he, profile, "何志愿", HE_ID)
    await _approved(client, setup, he, 120, title="助餐配送")
    issue_url = f"/api/v1/volunteers/{profile['id']}/service-certificates"
    wrong = (await client.post(issue_url, headers=setup.staff.headers)).json()
    revoke_url = f"/api/v1/service-certificates/{wrong['id']}/revoke"
    reason = {"reason": "服务记录录入有误,已重新出具"}
    assert (await client.post(revoke_url, json=reason, headers=he.headers)).status_code == 403
    elsewhere = await community_with_staff(client, "海秀社区")
    assert (await client.post(revoke_url, json=reason, headers=elsewhere.staff.headers)).status_code == 404
    assert (await client.post(revoke_url, json={"reason": ""}, headers=setup.staff.headers)).status_code == 422
    r = await client.post(revoke_url, json=reason, headers=setup.staff.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "revoked" and r.json()["revoke_reason"] == reason["reason"]
    again = await client.post(revoke_url, json=reason, headers=setup.staff.headers)
    assert again.status_code == 409 and again.json()["code"] == "certificate_revoked"

    # The QR code on the revoked certificate now leads to "revoked", with when and why.
    pdf = await client.get(f"/api/v1/service-certificates/{wrong['id']}/pdf", headers=he.headers)
    assert "作废" in _pdf_pages(pdf.content)[0]
    parts = urlsplit(_qr_of_first_page(pdf.content, tmp_path))
    page = await client.get(f"{parts.path}?{parts.query}")
    assert page.status_code == 200 and "这份证明已作废" in page.text and reason["reason"] in page.text
    answer = (await client.get(f"/api/v1/public/certificates{parts.path.removeprefix('/verify')}?{parts.query}")).json()
    assert answer["status"] == "revoked"
    assert answer["revoke_reason"] == reason["reason"] and answer["revoked_at"] is not None
    assert answer["approved_minutes"] == 120

    # The database refuses any change but that one revocation, and any deletion.
    for sql in (
        "UPDATE volunteer_service_certificates SET approved_minutes = 6000 WHERE id = $1",
        "UPDATE volunteer_service_certificates SET revoke_reason = '改个理由' WHERE id = $1",
        "DELETE FROM volunteer_service_certificates WHERE id = $1",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await db.execute(sql, UUID(wrong["id"]))
    new = await client.post(issue_url, headers=setup.staff.headers)
    assert new.status_code == 201
    assert new.json()["serial_no"] != wrong["serial_no"] and new.json()["status"] == "valid"
    assert (
        await client.get(
            urlsplit(new.json()["verification_url"]).path.replace("/verify/", "/api/v1/public/certificates/")
            + "?code="
            + new.json()["check_code"]
        )
    ).json()["status"] == "valid"


async def test_no_approved_service_no_certificate_and_nothing_written(client):
    setup = await _ready(client)
    he, profile = await volunteer(client, setup, "何志愿")
    await real_name(client, he, profile, "何志愿", HE_ID)
    issue_url = f"/api/v1/volunteers/{profile['id']}/service-certificates"
    r = await client.post(issue_url, headers=setup.staff.headers)
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "nothing_to_certify"
    assert r.json()["title"] == "该期间没有经审核的志愿服务记录,无法出具证明"
    r = await client.post(issue_url, headers={**setup.staff.headers, "Accept-Language": "en"})
    assert r.json()["title"] == "No approved volunteer service in this period: nothing to certify"
    # Served but not approved yet: still nothing to certify.
    pending_task, pending = await accepted_offer(client, setup, he, title="尚未审核的服务")
    await act(client, he, pending, "check-in")
    await act(client, he, pending, "check-out")
    # (moved out of the way so the volunteer is free for the tasks below)
    await db.execute(
        "UPDATE volunteer_tasks SET starts_at = starts_at - interval '60 days', ends_at = ends_at - interval '60 days'"
        " WHERE id = $1",
        UUID(pending_task["id"]),
    )
    assert (await client.post(issue_url, headers=setup.staff.headers)).json()["code"] == "nothing_to_certify"
    assert await _certificate_rows() == 0
    assert await db.fetchval("SELECT count(*) FROM audit_events WHERE action = 'volunteer.certificate_issued'") == 0

    # A stated period certifies only its records; a period without any is refused like no service at all.
    await _approved(client, setup, he, 90, title="上月的助餐配送", days_ago=40)
    await _approved(client, setup, he, 60, title="本周的陪诊")
    today = _today()
    empty = {"period_from": str(today - timedelta(days=30)), "period_to": str(today - timedelta(days=20))}
    r = await client.post(issue_url, json=empty, headers=setup.staff.headers)
    assert r.status_code == 409 and r.json()["code"] == "nothing_to_certify"
    assert await _certificate_rows() == 0
    recent = {"period_from": str(today - timedelta(days=7))}
    r = await client.post(issue_url, json=recent, headers=setup.staff.headers)
    assert r.status_code == 201, r.text
    assert (r.json()["approved_minutes"], r.json()["record_count"], r.json()["lifetime_minutes"]) == (60, 1, 150)
    assert r.json()["period_from"] == recent["period_from"]
    pdf = await client.get(f"/api/v1/service-certificates/{r.json()['id']}/pdf", headers=he.headers)
    text = _pdf_pages(pdf.content)[0]
    assert "本周的陪诊" in text and "上月的助餐配送" not in text
    for bad in (
        {"period_from": str(today), "period_to": str(today - timedelta(days=1))},
        {"period_to": str(today + timedelta(days=2))},
        {"period_from": "2026-02-30"},
    ):
        r = await client.post(issue_url, json=bad, headers=setup.staff.headers)
        assert r.status_code == 422, (bad, r.text)
    assert await _certificate_rows() == 1


async def test_a_certificate_needs_the_real_name_and_the_issuers_contact(client):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    he, profile = await volunteer(client, setup, "何志愿")
    await _approved(client, setup, he, 60)
    issue_url = f"/api/v1/volunteers/{profile['id']}/service-certificates"
    r = await client.post(issue_url, headers=setup.staff.headers)
    assert r.status_code == 409 and r.json()["code"] == "real_name_required"
    await real_name(client, he, profile, "何志愿", HE_ID)
    r = await client.post(issue_url, headers=setup.staff.headers)
    assert r.status_code == 409 and r.json()["code"] == "certificate_issuer_required"
    assert await _certificate_rows() == 0
    r = await client.put(
        f"/api/v1/communities/{setup.id}/certificate-issuer",
        json={"contact": "0898-12345678"},
        headers=setup.staff.headers,
    )
    assert r.status_code == 403  # the community admin names the issuer
    await certificate_issuer(client, setup)
    r = await client.post(issue_url, headers=setup.staff.headers)
    assert r.status_code == 201 and r.json()["issuer_contact"] == "0898-6529 1234"


async def test_three_hundred_records_make_numbered_pages_with_the_table_header_on_each(client):
    setup = await _ready(client)
    he, profile = await volunteer(client, setup, "何志愿")
    await real_name(client, he, profile, "何志愿", HE_ID)
    # 300 approved services, written as the approval writes them (task, approved assignment, ledger entry),
    # a day apart and all in the past.
    await db.execute(
        "WITH t AS (INSERT INTO volunteer_tasks (id, community_id, kind, title, description, location, owner_user_id,"
        " required_skills, required_certificates, volunteers_needed, starts_at, ends_at, urgent,"
        " offer_window_minutes, status, created_at)"
        " SELECT gen_random_uuid(), $1, 'task', '助老服务第' || lpad(n::text, 3, '0') || '次', '', '', $2, '[]',"
        " '{}', 1, now() - make_interval(days => 301 - n), now() - make_interval(days => 301 - n) + interval '2 h',"
        " false, 60, 'completed', now() FROM generate_series(1, 300) AS n RETURNING id, starts_at),"
        " a AS (INSERT INTO volunteer_assignments (id, task_id, community_id, volunteer_id, status, score, reasons,"
        " offered_at, checked_in_at, checked_out_at, auto_checked_out, needs_review, approved_minutes,"
        " approved_by, approved_at) SELECT gen_random_uuid(), t.id, $1, $3, 'approved', 0, '[]', t.starts_at,"
        " t.starts_at, t.starts_at + interval '2 h', false, false, 120, $2, now() FROM t RETURNING id, task_id)"
        " INSERT INTO volunteer_hours_entries (id, community_id, volunteer_id, assignment_id, task_id, kind, minutes,"
        " period, memo, created_by, created_at) SELECT gen_random_uuid(), $1, $3, a.id, a.task_id, 'approval', 120,"
        " '2026-01', '', $2, now() FROM a",
        UUID(setup.id),
        UUID(setup.staff.id),
        UUID(profile["id"]),
    )
    r = await client.post(f"/api/v1/volunteers/{profile['id']}/service-certificates", headers=setup.staff.headers)
    assert r.status_code == 201, r.text
    assert r.json()["record_count"] == 300 and r.json()["approved_minutes"] == 300 * 120
    assert r.json()["star_level"] == 3  # 600 h of service reach 3★ (national thresholds 100, 300, 600 h)
    pdf = await client.get(f"/api/v1/service-certificates/{r.json()['id']}/pdf", headers=he.headers)
    assert pdf.status_code == 200
    pages = _pdf_pages(pdf.content)
    assert len(pages) > 5
    for n, text in enumerate(pages, start=1):
        assert f"第{n}页/共{len(pages)}页" in text, n
        assert "序号服务日期服务项目组织单位时长" in text, n  # the table header repeats on every page
    whole = "".join(pages)
    for n in range(1, 301):
        assert f"助老服务第{n:03d}次" in whole, n
    assert "合计600小时" in pages[-1] and "盖章" in pages[-1]
    assert "★★★(3星)" in pages[0]


async def test_identity_numbers_are_checked_and_one_belongs_to_one_volunteer(client):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    he, profile = await volunteer(client, setup, "何志愿")
    url = f"/api/v1/volunteers/{profile['id']}/real-name"
    wrong_check = HE_ID[:17] + ("0" if HE_ID[17] != "0" else "1")
    for number, code in (
        (wrong_check, "id_number_invalid"),
        ("460108199002301230", "id_number_invalid"),  # 30 February
        ("46010819900307123", "id_number_invalid"),  # 17 digits
        ("4601081990030712345678901", "validation_error"),
    ):
        r = await client.put(url, json={"real_name": "何志愿", "id_number": number}, headers=he.headers)
        assert r.status_code == 422 and r.json()["code"] == code, r.text
        assert number not in r.text
    x_id = next(n for n in (id_number("19851111", s) for s in range(200)) if n.endswith("X"))
    done = await real_name(client, he, profile, "何志愿", x_id.lower()[:14] + " " + x_id.lower()[14:])
    assert done["id_number_masked"] == x_id[:4] + "*" * 10 + x_id[-4:] and done["real_name"] == "何志愿"
    other, other_profile = await volunteer(client, setup, "另一位")
    r = await client.put(
        f"/api/v1/volunteers/{other_profile['id']}/real-name",
        json={"real_name": "冒名", "id_number": x_id},
        headers=other.headers,
    )
    assert r.status_code == 409 and r.json()["code"] == "id_number_registered"
    r = await client.put(url, json={"real_name": "何志愿", "id_number": x_id}, headers=setup.staff.headers)
    assert r.status_code == 200  # staff may record it for the volunteer; the same number again is no conflict
    stranger = await sign_up(client, "路人")
    r = await client.put(url, json={"real_name": "路人", "id_number": HE_ID}, headers=stranger.headers)
    assert r.status_code == 404
    # Another community may register the same person.
    elsewhere = await community_with_staff(client, "海秀社区")
    await catalog(client, elsewhere)
    _, there = await volunteer(client, elsewhere, person=he)
    await real_name(client, he, there, "何志愿", x_id)


async def test_the_full_identity_number_is_in_no_answer_no_row_and_no_log(log_dir, tmp_path):
    """The whole story against a real server logging at DEBUG (its log file sits with every live process's
    log of this run): the number goes in once, and comes out nowhere."""
    number = id_number("19781224", 457)
    env = {**process_env(), "LINLI_LOG_LEVEL": "DEBUG", "LINLI_LOG_JSON": "true"}
    answers: list[str] = []
    with live_api(env, log_dir, workers=1) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:

            async def record(response: httpx.Response) -> None:
                await response.aread()
                is_pdf = "pdf" in response.headers.get("content-type", "")
                answers.append(f"{response.headers}\n{'' if is_pdf else response.text}")

            http.event_hooks["response"] = [record]
            setup = await _ready(http)
            he, profile = await volunteer(http, setup, "何志愿")
            bad = await http.put(
                f"/api/v1/volunteers/{profile['id']}/real-name",
                json={"real_name": "何志愿", "id_number": number[:17] + ("0" if number[17] != "0" else "1")},
                headers=he.headers,
            )
            assert bad.status_code == 422
            await real_name(http, he, profile, "何志愿", number)
            await http.get(f"/api/v1/volunteers/{profile['id']}", headers=setup.staff.headers)
            await http.get(f"/api/v1/communities/{setup.id}/volunteers", headers=setup.staff.headers)
            await _approved(http, setup, he, 60)
            cert = (
                await http.post(f"/api/v1/volunteers/{profile['id']}/service-certificates", headers=setup.staff.headers)
            ).json()
            pdf = await http.get(f"/api/v1/service-certificates/{cert['id']}/pdf", headers=he.headers)
            assert number not in "".join(_pdf_pages(pdf.content)) and number.encode() not in pdf.content
            parts = urlsplit(cert["verification_url"])
            page = await http.get(f"{parts.path}?{parts.query}")
            assert "何*愿" in page.text and number not in page.text
            answers.append(page.text)
            verified = await http.get(f"/api/v1/public/certificates{parts.path.removeprefix('/verify')}?{parts.query}")
            assert verified.json()["holder_masked_name"] == "何*愿"
    assert len(answers) > 20
    for answer in answers:
        assert number not in answer
    logs = {p.name: p.read_text(errors="replace") for p in log_dir.glob("*.log")}
    mine = next(text for text in logs.values() if f"/api/v1/volunteers/{profile['id']}/real-name" in text)
    assert '"event": "request"' in mine  # the server did log its requests, at DEBUG, as JSON
    for name, text in logs.items():
        assert number not in text, name
    # Stored nowhere either: not in any row of any table (profiles, audit events, idempotency keys …).
    tables = [r["tablename"] for r in await db.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    for table in tables:
        hit = await db.fetchval(f'SELECT count(*) FROM "{table}" t WHERE t::text LIKE $1', f"%{number}%")
        assert hit == 0, table
    stored = await db.fetchrow(
        "SELECT id_number_masked, id_number_hmac FROM volunteer_profiles WHERE id = $1", UUID(profile["id"])
    )
    assert stored is not None
    assert stored["id_number_masked"] == number[:4] + "**********" + number[-4:]
    # What is kept to recognise the person again: an HMAC under the server's secret, not the number.
    assert stored["id_number_hmac"] == identity.keyed_digest(number)
