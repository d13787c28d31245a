"""The 志愿服务证明 as a PDF (fpdf2): what the national record rules (志愿服务记录与证明出具办法) ask a
certificate to state, laid out on A4 pages.

Page 1 carries the title, serial number, check code and the QR code of the public verification URL, then the
holder (real name, masked identity number), the period, the total and the star level. Every approved record
follows in a table whose header row repeats on each page; the issuer block (organisation, contact, issuing
staff member, date, a place for the seal) closes the last page. Every page says "第 N 页 / 共 M 页".
Pure: no database, so it runs in a thread and tests can call it directly.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

RED = (180, 30, 30)


@dataclass(frozen=True)
class Record:
    served_on: date | None
    title: str
    organiser: str
    minutes: int


@dataclass(frozen=True)
class CertificateContent:
    serial_no: str
    check_code: str | None
    verification_url: str | None
    holder_name: str
    holder_id_masked: str | None
    period_from: date | None
    period_to: date | None
    approved_minutes: int
    lifetime_minutes: int | None
    star_level: int
    records: list[Record]
    community: str
    organisation: str
    contact: str | None
    issued_by_name: str | None
    issued_on: date
    revoked_on: date | None = None
    revoke_reason: str | None = None


@lru_cache(maxsize=1)
def cjk_font_path() -> str:
    """Noto Sans CJK, shipped as a pip package (cvttf-notosanscjk-regular) so PDFs render Chinese anywhere."""
    import cvttf_NotoSansCJK_Regular  # type: ignore[import-untyped]

    return str(cvttf_NotoSansCJK_Regular.get_TTF_path())


def hours_text(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return f"{hours} 小时" + (f" {rest} 分钟" if rest else "")


def _day(d: date | None) -> str:
    return f"{d:%Y年%m月%d日}" if d else "—"


def _qr_png(url: str) -> io.BytesIO:
    import segno

    out = io.BytesIO()
    # Error correction M survives a smudged print; a 4-module quiet zone is what scanners expect.
    segno.make(url, error="m").save(out, kind="png", scale=8, border=4)
    out.seek(0)
    return out


def render(content: CertificateContent) -> bytes:
    """The certificate's PDF bytes; the CJK font is embedded (subset) so it renders without system fonts."""
    from fpdf import FPDF
    from fpdf.enums import TableHeadingsDisplay, WrapMode
    from fpdf.fonts import FontFace

    class CertificatePDF(FPDF):
        def header(self) -> None:
            self.set_draw_color(*RED)
            self.set_line_width(0.8)
            self.rect(8, 8, 194, 281)
            if self.page_no() > 1:
                self.set_font("noto", size=9)
                self.set_text_color(90, 90, 90)
                self.set_xy(14, 11)
                self.cell(0, 6, f"志愿服务证明 {content.serial_no}(续)  {content.holder_name}")
                self.set_text_color(0, 0, 0)
                self.set_y(20)

        def footer(self) -> None:
            self.set_y(-16)
            self.set_font("noto", size=9)
            self.set_text_color(90, 90, 90)
            self.cell(0, 6, f"第 {self.page_no()} 页 / 共 {{nb}} 页", align="C")
            self.set_text_color(0, 0, 0)

    pdf = CertificatePDF(orientation="P", unit="mm", format="A4")
    pdf.set_margins(14, 14, 14)
    pdf.set_auto_page_break(auto=True, margin=22)
    pdf.alias_nb_pages("{nb}")
    pdf.add_font("noto", "", cjk_font_path())
    pdf.set_font("noto", size=10)
    pdf.add_page()

    if content.verification_url:
        pdf.image(_qr_png(content.verification_url), x=166, y=13, w=30, h=30)
        pdf.set_font("noto", size=7)
        pdf.set_xy(160, 43)
        pdf.cell(42, 4, "扫码核验真伪", align="C")
    pdf.set_font("noto", size=24)
    pdf.set_y(20)
    pdf.cell(0, 12, "志愿服务证明", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("noto", size=10)
    pdf.cell(0, 6, f"证明编号 No. {content.serial_no}", align="C", new_x="LMARGIN", new_y="NEXT")
    if content.check_code:
        pdf.cell(0, 6, f"核验码 {content.check_code}", align="C", new_x="LMARGIN", new_y="NEXT")
    if content.revoked_on:
        pdf.set_text_color(*RED)
        pdf.set_font("noto", size=14)
        pdf.ln(2)
        pdf.multi_cell(
            0,
            8,
            f"本证明已于{_day(content.revoked_on)}作废:{content.revoke_reason or ''}",
            align="C",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.set_text_color(0, 0, 0)
    pdf.set_y(max(pdf.get_y(), 50) + 4)

    pdf.set_font("noto", size=12)
    facts: list[tuple[str, str]] = [
        ("姓名", content.holder_name),
        ("身份证号", content.holder_id_masked or "—"),
        ("服务期间", f"{_day(content.period_from)} 至 {_day(content.period_to)}"),
        ("服务时长合计", f"{hours_text(content.approved_minutes)}({len(content.records)} 条记录)"),
    ]
    if content.lifetime_minutes is not None:
        stars = "★" * content.star_level if content.star_level else "未达一星"
        facts.append(("累计服务时长", f"{hours_text(content.lifetime_minutes)},星级 {stars}({content.star_level} 星)"))
    for label, value in facts:
        pdf.set_x(20)
        pdf.cell(34, 8, f"{label}:")
        pdf.multi_cell(0, 8, value, new_x="LMARGIN", new_y="NEXT", wrapmode=WrapMode.CHAR)
    pdf.ln(2)
    pdf.set_x(20)
    pdf.multi_cell(
        0,
        7,
        f"兹证明以上志愿者在{content.community}参加志愿服务,下列服务记录均经服务组织审核确认。",
        new_x="LMARGIN",
        new_y="NEXT",
        wrapmode=WrapMode.CHAR,
    )
    pdf.ln(3)

    pdf.set_font("noto", size=10)
    heading = FontFace(emphasis="NONE", fill_color=(244, 228, 228))
    with pdf.table(
        col_widths=(10, 24, 62, 54, 32),
        text_align=("CENTER", "CENTER", "LEFT", "LEFT", "RIGHT"),
        headings_style=heading,
        repeat_headings=TableHeadingsDisplay.ON_TOP_OF_EVERY_PAGE,
        line_height=6.5,
        wrapmode=WrapMode.CHAR,
        padding=1,
    ) as table:
        row = table.row()
        for text in ("序号", "服务日期", "服务项目", "组织单位", "时长"):
            row.cell(text)
        for n, record in enumerate(content.records, start=1):
            row = table.row()
            row.cell(str(n))
            row.cell(f"{record.served_on:%Y-%m-%d}" if record.served_on else "—")
            row.cell(record.title)
            row.cell(record.organiser)
            row.cell(hours_text(record.minutes))
        row = table.row()
        row.cell("合计", colspan=4, align="RIGHT")
        row.cell(hours_text(content.approved_minutes))

    _issuer_block(pdf, content)
    return bytes(pdf.output())


def _issuer_block(pdf: Any, content: CertificateContent) -> None:
    """Organisation, contact, issuing staff member and date on the left, the seal's place on the right; kept
    whole on one page."""
    block_mm = 58
    if pdf.get_y() + block_mm > pdf.h - pdf.b_margin:
        pdf.add_page()
    top = pdf.get_y() + 8
    pdf.set_font("noto", size=11)
    lines = [
        f"出具单位:{content.organisation}",
        f"联系方式:{content.contact or '—'}",
        f"经办人:{content.issued_by_name or '—'}",
        f"出具日期:{_day(content.issued_on)}",
    ]
    if content.verification_url:
        lines.append("核验方式:扫描首页二维码,或访问")
    pdf.set_xy(20, top)
    for line in lines:
        pdf.set_x(20)
        pdf.multi_cell(110, 7, line, new_x="LMARGIN", new_y="NEXT")
    if content.verification_url:
        pdf.set_font("noto", size=7)
        pdf.set_x(20)
        pdf.multi_cell(110, 4, content.verification_url, new_x="LMARGIN", new_y="NEXT")
    # The seal (公章) goes over the organisation's name: a dashed circle marks its place.
    pdf.set_draw_color(*RED)
    pdf.set_line_width(0.4)
    pdf.set_dash_pattern(dash=1.5, gap=1.2)
    pdf.circle(x=165, y=top + 22, radius=20)
    pdf.set_dash_pattern()
    pdf.set_font("noto", size=9)
    pdf.set_text_color(*RED)
    pdf.set_xy(145, top + 19)
    pdf.cell(40, 6, "(盖章处)", align="C")
    pdf.set_text_color(0, 0, 0)
