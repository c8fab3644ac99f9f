"""A dispute's resolution letter as a PDF (A4), with reportlab.

Chinese is set in reportlab's built-in CID font ``STSong-Light`` (Adobe-GB1, encoding
UniGB-UCS2-H): the PDF names the font and the reader supplies its glyphs, as every PDF reader
with Chinese support does, so nothing is installed on the server and no font file is embedded.
English letters are set in Helvetica (one of the PDF's standard 14 fonts), with any Chinese in them
(a community's name, the utility's) in STSong-Light. The text stays text: a reader can search and
copy it, and a test can read it back.

The document is built ``invariant`` (no creation time, a fixed document id): the same letter in the
same language is the same bytes, whether it is sent or fetched again later.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Callable
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from application.dispute_letter_text import LetterDocument, LetterSection, LetterTable
from application.notifications import MessageLanguage

CHINESE_FONT = "STSong-Light"
LATIN_FONT = "Helvetica"
LATIN_BOLD_FONT = "Helvetica-Bold"
MARGIN = 20 * mm
TEXT_WIDTH = A4[0] - 2 * MARGIN
# Runs of CJK characters, full-width punctuation, curly quotes and arrows (outside WinAnsi): set in
# the Chinese font inside English text.
_CJK_RUN = re.compile(r"[\u2e80-\u9fff\u3000-\u303f\uff00-\uffef\u2018-\u201d\u2192]+")
_registered = threading.Lock()


def _register_fonts() -> None:
    """Register the CID font once per process (reportlab keeps a global registry)."""
    with _registered:
        if CHINESE_FONT not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(UnicodeCIDFont(CHINESE_FONT))


class _Styles:
    """The paragraph styles of a letter in one language."""

    def __init__(self, language: MessageLanguage) -> None:
        chinese = language is MessageLanguage.ZH
        self.chinese = chinese
        base = CHINESE_FONT if chinese else LATIN_FONT
        bold = CHINESE_FONT if chinese else LATIN_BOLD_FONT
        wrap = "CJK" if chinese else None
        self.letterhead = ParagraphStyle("letterhead", fontName=bold, fontSize=16, leading=22, alignment=TA_CENTER)
        self.title = ParagraphStyle("title", fontName=bold, fontSize=14, leading=20, alignment=TA_CENTER)
        self.reference = ParagraphStyle("reference", fontName=base, fontSize=9, leading=13, alignment=TA_RIGHT)
        self.heading = ParagraphStyle("heading", fontName=bold, fontSize=11.5, leading=17, spaceBefore=8, spaceAfter=3)
        self.body = ParagraphStyle("body", fontName=base, fontSize=10.5, leading=16, wordWrap=wrap, spaceAfter=3)
        self.cell = ParagraphStyle("cell", fontName=base, fontSize=9, leading=12.5, wordWrap="CJK")
        self.header_cell = ParagraphStyle("header", fontName=bold, fontSize=9, leading=12.5, wordWrap="CJK")
        self.signature = ParagraphStyle("signature", fontName=base, fontSize=10.5, leading=16, alignment=TA_RIGHT)

    def text(self, text: str) -> str:
        """``text`` as paragraph markup: escaped, and in English its CJK runs in the Chinese font."""
        escaped = escape(text)
        if self.chinese:
            return escaped
        return _CJK_RUN.sub(lambda run: f'<font name="{CHINESE_FONT}">{run.group(0)}</font>', escaped)

    def paragraph(self, text: str, style: ParagraphStyle) -> Paragraph:
        return Paragraph(self.text(text), style)


class ReportLabLetters:
    """Renders ``LetterDocument``s as PDF bytes (``application.dispute_letters.LetterRenderer``)."""

    def __init__(self) -> None:
        _register_fonts()

    def render(self, document: LetterDocument) -> bytes:
        """The letter as a PDF."""
        styles = _Styles(document.language)
        buffer = io.BytesIO()
        template = SimpleDocTemplate(
            buffer,
            pagesize=A4,
            leftMargin=MARGIN,
            rightMargin=MARGIN,
            topMargin=MARGIN,
            bottomMargin=MARGIN + 6 * mm,
            title=document.document_title,
            author=document.letterhead,
            subject=document.title,
            creator="Heat Ledger",
            invariant=1,
        )
        footer = _footer(document, styles)
        template.build(_story(document, styles), onFirstPage=footer, onLaterPages=footer)
        pdf = buffer.getvalue()
        assert pdf.startswith(b"%PDF-"), "reportlab wrote a PDF"
        return pdf


def _story(document: LetterDocument, styles: _Styles) -> list[Flowable]:
    story: list[Flowable] = [
        styles.paragraph(document.letterhead, styles.letterhead),
        styles.paragraph(document.title, styles.title),
        styles.paragraph(document.reference_line, styles.reference),
        Spacer(1, 4 * mm),
        styles.paragraph(document.salutation, styles.body),
        styles.paragraph(document.opening, styles.body),
    ]
    for section in document.sections:
        story.extend(_section(section, styles))
    story.append(Spacer(1, 4 * mm))
    story.extend(styles.paragraph(line, styles.body) for line in document.closing)
    story.append(Spacer(1, 6 * mm))
    story.extend(styles.paragraph(line, styles.signature) for line in document.signature)
    return story


def _section(section: LetterSection, styles: _Styles) -> list[Flowable]:
    flowables: list[Flowable] = [styles.paragraph(section.heading, styles.heading)]
    flowables.extend(styles.paragraph(text, styles.body) for text in section.paragraphs)
    if section.table is not None:
        flowables.append(_table(section.table, styles))
    return flowables


def _table(table: LetterTable, styles: _Styles) -> Table:
    rows: list[list[Paragraph]] = []
    if table.header is not None:
        rows.append([styles.paragraph(cell, styles.header_cell) for cell in table.header])
    rows.extend([styles.paragraph(cell, styles.cell) for cell in row] for row in table.rows)
    assert abs(sum(table.widths) - 1) < 1e-9, "the columns share the text width"
    built = Table(rows, colWidths=[TEXT_WIDTH * share for share in table.widths], repeatRows=1 if table.header else 0)
    commands = [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
    ]
    if table.header is not None:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#EEEEEE")))
    else:
        commands.append(("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#F5F5F5")))
    built.setStyle(TableStyle(commands))
    return built


def _footer(document: LetterDocument, styles: _Styles) -> Callable[[Canvas, SimpleDocTemplate], None]:
    """Each page's footer: the letter's footer line and the page number."""
    font = CHINESE_FONT if styles.chinese or _CJK_RUN.search(document.footer) else LATIN_FONT

    def draw(canvas: Canvas, template: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(font, 7.5)
        canvas.setFillColor(colors.grey)
        canvas.drawString(MARGIN, MARGIN - 2 * mm, document.footer)
        canvas.drawRightString(A4[0] - MARGIN, MARGIN - 2 * mm, document.page_label.format(page=canvas.getPageNumber()))
        canvas.restoreState()

    return draw
