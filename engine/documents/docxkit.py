"""Small python-docx helpers for a company-looking document: fonts that cover Chinese,
shaded header rows that repeat on every page, page numbers, thin grey borders.

python-docx has no API for several of these (East Asian fonts, cell shading, fields), so
they are set through the underlying XML here, in one place.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

LATIN_FONT = "Arial"
CJK_FONT = "SimSun"
ACCENT = "1F3A5F"  # dark blue-grey for headings and header rows
ZEBRA = "F2F5F9"
BORDER = "A6B0BF"
GREY = RGBColor(0x59, 0x59, 0x59)

# Characters XML 1.0 cannot hold; a contract text with them would make an unreadable file.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_safe(text: str) -> str:
    return _XML_INVALID.sub("\ufffd", text)


def set_fonts(target: Any, latin: str = LATIN_FONT, cjk: str = CJK_FONT) -> None:
    """Latin and East Asian font on a run or style (python-docx only sets the Latin one)."""
    target.font.name = latin
    rpr = target.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr in ("w:ascii", "w:hAnsi", "w:cs"):
        fonts.set(qn(attr), latin)
    fonts.set(qn("w:eastAsia"), cjk)


def new_document(*, landscape: bool = False) -> Any:
    """A4 with sober margins, 10.5 pt body text (Chinese 五号), fonts that cover CJK."""
    doc = Document()
    section = doc.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)
    if landscape:
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_height, section.page_width = Cm(21.0), Cm(29.7)
    section.top_margin = Cm(2.3)
    section.bottom_margin = Cm(2.0)
    section.left_margin = section.right_margin = Cm(2.2)
    section.header_distance = Cm(1.1)
    section.footer_distance = Cm(1.0)
    normal = doc.styles["Normal"]
    set_fonts(normal)
    normal.font.size = Pt(10.5)
    normal.paragraph_format.space_after = Pt(3)
    normal.paragraph_format.line_spacing = 1.15
    for name in ("Table Grid",):
        set_fonts(doc.styles[name])
    return doc


def text_width(doc: Any) -> Any:
    section = doc.sections[0]
    return section.page_width - section.left_margin - section.right_margin


def add_run(
    paragraph: Any,
    text: str,
    *,
    bold: bool = False,
    size: float | None = None,
    color: RGBColor | str | None = None,
    italic: bool = False,
) -> Any:
    run = paragraph.add_run(xml_safe(text))
    run.bold = bold or None
    run.italic = italic or None
    if size is not None:
        run.font.size = Pt(size)
    if isinstance(color, str):
        run.font.color.rgb = RGBColor.from_string(color)
    elif color is not None:
        run.font.color.rgb = color
    return run


def paragraph(
    doc_or_cell: Any,
    text: str = "",
    *,
    align: str | None = None,
    bold: bool = False,
    size: float | None = None,
    color: RGBColor | str | None = None,
    space_before: float | None = None,
    space_after: float | None = None,
    keep_with_next: bool = False,
    italic: bool = False,
) -> Any:
    para = doc_or_cell.add_paragraph()
    if text:
        add_run(para, text, bold=bold, size=size, color=color, italic=italic)
    fmt = para.paragraph_format
    if align:
        fmt.alignment = {
            "center": WD_ALIGN_PARAGRAPH.CENTER,
            "right": WD_ALIGN_PARAGRAPH.RIGHT,
            "justify": WD_ALIGN_PARAGRAPH.JUSTIFY,
            "left": WD_ALIGN_PARAGRAPH.LEFT,
        }[align]
    if space_before is not None:
        fmt.space_before = Pt(space_before)
    if space_after is not None:
        fmt.space_after = Pt(space_after)
    if keep_with_next:
        fmt.keep_with_next = True
    return para


def bottom_rule(para: Any, color: str = ACCENT, size: int = 8) -> None:
    """A line under a paragraph (letterhead, section headings)."""
    ppr = para._p.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", str(size)), ("w:space", "1")):
        bottom.set(qn(key), value)
    bottom.set(qn("w:color"), color)
    borders.append(bottom)
    ppr.append(borders)


def shade(cell: Any, fill: str) -> None:
    tcpr = cell._tc.get_or_add_tcPr()
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill)
    tcpr.append(shd)


def _table_borders(table: Any, color: str, inner: bool = True) -> None:
    tblpr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    edges = ("top", "left", "bottom", "right", "insideH", "insideV")
    for edge in edges:
        el = OxmlElement(f"w:{edge}")
        visible = inner or edge in {"top", "bottom", "left", "right"}
        el.set(qn("w:val"), "single" if visible else "nil")
        el.set(qn("w:sz"), "4")
        el.set(qn("w:space"), "0")
        el.set(qn("w:color"), color)
        borders.append(el)
    tblpr.append(borders)


def _cell_margins(table: Any, top_bottom: float = 1.5, sides: float = 4) -> None:
    """Breathing room inside cells (points); Word's default is cramped for data tables."""
    tblpr = table._tbl.tblPr
    margins = OxmlElement("w:tblCellMar")
    for edge, value in (
        ("top", top_bottom),
        ("left", sides),
        ("bottom", top_bottom),
        ("right", sides),
    ):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:w"), str(int(value * 20)))
        el.set(qn("w:type"), "dxa")
        margins.append(el)
    tblpr.append(margins)


def _no_borders(table: Any) -> None:
    tblpr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "nil")
        borders.append(el)
    tblpr.append(borders)


def _repeat_header(row: Any) -> None:
    trpr = row._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    trpr.append(header)


def _cant_split(row: Any) -> None:
    trpr = row._tr.get_or_add_trPr()
    trpr.append(OxmlElement("w:cantSplit"))


def _cell_text(cell: Any, text: str, *, bold: bool, size: float, color: Any, align: str) -> None:
    para = cell.paragraphs[0]
    para.paragraph_format.space_after = Pt(0)
    para.paragraph_format.space_before = Pt(0)
    para.paragraph_format.line_spacing = 1.0
    if align == "right":
        para.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    elif align == "center":
        para.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    if text:
        add_run(para, text, bold=bold, size=size, color=color)


def data_table(
    doc: Any,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    widths_cm: Sequence[float],
    *,
    align: Sequence[str] | None = None,
    size: float = 9,
    highlight: Sequence[Sequence[bool]] | None = None,
) -> Any:
    """A bordered table with a shaded header row that repeats on each page.

    `highlight[r][c]` marks changed cells (used by the revision comparison).
    """
    table = doc.add_table(rows=1, cols=len(headers))
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    _table_borders(table, BORDER)
    _cell_margins(table)
    aligns = list(align or ["left"] * len(headers))
    head = table.rows[0]
    _repeat_header(head)
    for i, text in enumerate(headers):
        cell = head.cells[i]
        shade(cell, ACCENT)
        _cell_text(cell, text, bold=True, size=size, color="FFFFFF", align="left")
    for r, values in enumerate(rows):
        row = table.add_row()
        _cant_split(row)
        for c, text in enumerate(values):
            cell = row.cells[c]
            if highlight and highlight[r][c]:
                shade(cell, "FFF2CC")
            elif r % 2 == 1:
                shade(cell, ZEBRA)
            _cell_text(cell, text, bold=False, size=size, color=None, align=aligns[c])
    set_widths(table, widths_cm)
    return table


def plain_table(doc: Any, rows: Sequence[Sequence[str]], widths_cm: Sequence[float]) -> Any:
    """A borderless layout table (parties, signatures): cells hold labelled lines."""
    table = doc.add_table(rows=len(rows), cols=len(widths_cm))
    table.autofit = False
    _no_borders(table)
    for r, values in enumerate(rows):
        for c, text in enumerate(values):
            _cell_text(table.rows[r].cells[c], text, bold=False, size=10, color=None, align="left")
    set_widths(table, widths_cm)
    return table


def set_widths(table: Any, widths_cm: Sequence[float]) -> None:
    """Widths on every cell: Word reads the cells, LibreOffice reads the grid."""
    grid = table._tbl.tblGrid
    for col, width in zip(grid.findall(qn("w:gridCol")), widths_cm, strict=False):
        col.set(qn("w:w"), str(int(Cm(width).twips)))
    for row in table.rows:
        for cell, width in zip(row.cells, widths_cm, strict=False):
            cell.width = Cm(width)


def add_field(para: Any, instruction: str, *, size: float = 8, color: Any = GREY) -> None:
    """A Word field (PAGE, NUMPAGES) that the word processor fills in: begin, instruction,
    separator, placeholder result and end each in their own run, all with the same look."""

    def part(build: Any) -> None:
        run = add_run(para, "", size=size, color=color)
        run._r.append(build())

    def fld(kind: str) -> Any:
        el = OxmlElement("w:fldChar")
        el.set(qn("w:fldCharType"), kind)
        return el

    def instr() -> Any:
        el = OxmlElement("w:instrText")
        el.set(qn("xml:space"), "preserve")
        el.text = f" {instruction} "
        return el

    def result() -> Any:
        el = OxmlElement("w:t")
        el.text = "1"
        return el

    for build in (lambda: fld("begin"), instr, lambda: fld("separate"), result, lambda: fld("end")):
        part(build)


def letterhead(doc: Any, line_zh: str, line_en: str, footer_left: str) -> None:
    """Company name at the top of every page; reference and page x of y at the bottom."""
    section = doc.sections[0]
    head = section.header.paragraphs[0]
    head.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.LEFT
    add_run(head, line_zh, bold=True, size=10, color=ACCENT)
    add_run(head, "    " + line_en, size=8, color=GREY)
    bottom_rule(head)
    foot = section.footer.paragraphs[0]
    foot.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    add_run(foot, footer_left + "    第 ", size=8, color=GREY)
    add_field(foot, "PAGE")
    add_run(foot, " 页 / 共 ", size=8, color=GREY)
    add_field(foot, "NUMPAGES")
    add_run(foot, " 页    Page ", size=8, color=GREY)
    add_field(foot, "PAGE")
    add_run(foot, " of ", size=8, color=GREY)
    add_field(foot, "NUMPAGES")


def core_properties(doc: Any, *, title: str, subject: str, author: str) -> None:
    props = doc.core_properties
    props.title = xml_safe(title)[:255]
    props.subject = xml_safe(subject)[:255]
    props.author = xml_safe(author)[:255]
    props.keywords = "contractflow"


def to_bytes(doc: Any) -> bytes:
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
