"""The resolution letter as a PDF, read back with pypdf: the Chinese text is there and extractable,
every font is reportlab's CID font STSong-Light (named, not embedded: no font file is needed on the
server) or one of the standard 14, the same letter is the same bytes, and a long one runs over pages."""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

import pypdf
import pytest
from hypothesis import given
from hypothesis import strategies as st

from application.dispute_letter_text import render_letter
from application.notifications import MessageLanguage
from infrastructure.dispute_letter_pdf import CHINESE_FONT, ReportLabLetters
from tests.unit.application.test_dispute_letter_text import CONTENT, SENDER

# The PDF's standard 14 fonts: every reader has them.
STANDARD_FONTS = {
    "/Helvetica",
    "/Helvetica-Bold",
    "/Helvetica-Oblique",
    "/Helvetica-BoldOblique",
    "/Times-Roman",
    "/Times-Bold",
    "/Times-Italic",
    "/Times-BoldItalic",
    "/Courier",
    "/Courier-Bold",
    "/Courier-Oblique",
    "/Courier-BoldOblique",
    "/Symbol",
    "/ZapfDingbats",
}


def pdf_of(language: MessageLanguage, content: Any = CONTENT) -> bytes:
    return ReportLabLetters().render(render_letter(content, language, SENDER))


def text_of(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def fonts_of(pdf: bytes) -> list[Any]:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    fonts = {}
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            resolved = font.get_object()
            fonts[resolved["/BaseFont"]] = resolved
    return list(fonts.values())


@pytest.mark.parametrize("language", list(MessageLanguage))
def test_the_letter_is_a_pdf_whose_text_reads_back(language: MessageLanguage) -> None:
    pdf = pdf_of(language)
    assert pdf.startswith(b"%PDF-1.")
    text = text_of(pdf)
    for expected in ("许昌热力", "KF-1", "2025-2026-A-A-1-dispute:KF-1", "1,325.78", "1,321.39", "碧桂园"):
        assert expected in text
    if language is MessageLanguage.ZH:
        for expected in (
            "供热费争议处理结果通知书",
            "争议成立",
            "抄表员误读",
            "贷项调整单",
            "审批人",
            "致电 0374-12345",
        ):
            assert expected in text
    else:
        assert "Result of your heating bill dispute" in text and "Approved by" in text
    metadata = pypdf.PdfReader(io.BytesIO(pdf)).metadata
    assert metadata is not None and metadata.title is not None and "KF-1" in metadata.title


@pytest.mark.parametrize("language", list(MessageLanguage))
def test_every_font_is_the_built_in_cid_font_or_a_standard_one(language: MessageLanguage) -> None:
    fonts = fonts_of(pdf_of(language))
    names = {font["/BaseFont"] for font in fonts}
    assert f"/{CHINESE_FONT}" in names  # English letters too: the community's and the utility's names
    for font in fonts:
        if font["/BaseFont"] in STANDARD_FONTS:
            assert font["/Subtype"] == "/Type1" and "/FontDescriptor" not in font
            continue
        assert (font["/Subtype"], font["/BaseFont"], font["/Encoding"]) == (
            "/Type0",
            f"/{CHINESE_FONT}",
            "/UniGB-UCS2-H",
        )
        [descendant] = font["/DescendantFonts"]
        cid_font = descendant.get_object()
        assert cid_font["/Subtype"] == "/CIDFontType0"
        assert dict(cid_font["/CIDSystemInfo"]) == {"/Registry": "Adobe", "/Ordering": "GB1", "/Supplement": 0}
        descriptor = cid_font["/FontDescriptor"].get_object()
        # Named, not embedded: the reader's Adobe-GB1 font draws it; nothing is read from the server.
        assert not {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor)


def test_the_same_letter_is_the_same_bytes() -> None:
    assert pdf_of(MessageLanguage.ZH) == pdf_of(MessageLanguage.ZH)
    assert pdf_of(MessageLanguage.ZH) != pdf_of(MessageLanguage.EN)


def test_a_long_recompute_runs_over_pages_with_its_header_repeated() -> None:
    assert CONTENT.recompute is not None
    line = CONTENT.recompute.lines[1]
    many = replace(CONTENT.recompute, lines=tuple(replace(line, code="energy_part") for _ in range(60)))
    pdf = pdf_of(MessageLanguage.ZH, replace(CONTENT, recompute=many))
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 3
    assert "第 3 页" in reader.pages[2].extract_text()
    assert "变化的数据" in reader.pages[1].extract_text()  # the table's header again on the next page


@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=300))
def test_any_text_the_household_typed_renders_escaped(description: str) -> None:
    """A description with markup characters (<, &) or any script renders and reads back in part."""
    content = replace(CONTENT, description=f"说明：{description}", recompute=None)
    pdf = pdf_of(MessageLanguage.ZH, content)
    assert "说明：" in text_of(pdf)
