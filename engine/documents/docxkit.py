"""WordprocessingML building blocks for a company-looking document: fonts that cover
Chinese, shaded header rows that repeat on every page, page numbers, thin grey borders.

python-docx opens and saves the package and holds the styles; paragraphs, runs and tables
are built here as XML directly, for two reasons. Speed: python-docx's property machinery
costs ~0.3 ms per formatted run, which made a contract take ~100 ms (every submitted
revision is rendered); prototypes copied with lxml make it a few ms. Validity: Word
rejects children out of schema order (`tblBorders` after `tblLook`, `pBdr` after `jc`),
so every property element is written here in the order ECMA-376 prescribes.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.oxml.ns import qn
from docx.oxml.parser import oxml_parser
from docx.shared import Cm, Pt

LATIN_FONT = "Arial"
CJK_FONT = "SimSun"
ACCENT = "1F3A5F"  # dark blue-grey for headings and header rows
ZEBRA = "F2F5F9"
BORDER = "A6B0BF"
GREY = "595959"
CHANGED = "FFF2CC"

# Characters XML 1.0 cannot hold; a contract text with them would make an unreadable file.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_safe(text: str) -> str:
    return _XML_INVALID.sub("\ufffd", text)


@dataclass(frozen=True)
class Line:
    """One formatted line of text in a layout cell."""

    text: str
    bold: bool = False
    size: float | None = None
    color: str | None = None
    space_before: float | None = None


_W_NSMAP = {"w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main"}


def OxmlElement(tag: str) -> Any:
    """A `w:` element through python-docx's parser (so it gets python-docx's element class),
    without python-docx's per-call tag parsing."""
    return oxml_parser.makeelement(_clark(tag), nsmap=_W_NSMAP)


@lru_cache(maxsize=256)
def _clark(tag: str) -> str:
    return str(qn(tag))


def _el(tag: str, **attrs: str) -> Any:
    el = OxmlElement(tag)
    for key, value in attrs.items():
        el.set(_clark(f"w:{key}"), value)
    return el


# -- runs and paragraphs ------------------------------------------------------------------


@lru_cache(maxsize=64)
def _rpr(bold: bool, italic: bool, size: float | None, color: str | None) -> Any:
    """A run-properties prototype (b, i, color, sz, szCs in schema order)."""
    rpr = OxmlElement("w:rPr")
    if bold:
        rpr.append(_el("w:b"))
        rpr.append(_el("w:bCs"))
    if italic:
        rpr.append(_el("w:i"))
    if color:
        rpr.append(_el("w:color", val=color))
    if size is not None:
        half_points = str(round(size * 2))
        rpr.append(_el("w:sz", val=half_points))
        rpr.append(_el("w:szCs", val=half_points))
    return rpr


def _clone(prototype: Any) -> Any:
    """A copy of a prototype element with its children (lxml's own copy: `copy.deepcopy`
    would get the same element through the copy module's memo bookkeeping, which cost
    about a tenth of a rendering)."""
    return prototype.__copy__()


def _element(target: Any) -> Any:
    """The XML element of a python-docx object or the element itself."""
    for attr in ("_p", "_tc", "_element"):
        if hasattr(target, attr):
            return getattr(target, attr)
    return target


def add_run(
    paragraph: Any,
    text: str,
    *,
    bold: bool = False,
    size: float | None = None,
    color: str | None = None,
    italic: bool = False,
) -> Any:
    """Append a run to a paragraph (a `w:p` element or a python-docx Paragraph)."""
    run = OxmlElement("w:r")
    rpr = _rpr(bold, italic, size, color)
    if len(rpr):
        run.append(_clone(rpr))
    if text:
        t = OxmlElement("w:t")
        t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
        t.text = xml_safe(text)
        run.append(t)
    _element(paragraph).append(run)
    return run


@lru_cache(maxsize=128)
def _ppr(
    align: str | None,
    space_before: float | None,
    space_after: float | None,
    keep_with_next: bool,
    rule: tuple[str, int] | None,
    line: float | None,
) -> Any:
    """Paragraph-properties prototype: keepNext, pBdr, spacing, jc (schema order)."""
    ppr = OxmlElement("w:pPr")
    if keep_with_next:
        ppr.append(_el("w:keepNext"))
    if rule is not None:
        borders = OxmlElement("w:pBdr")
        borders.append(_el("w:bottom", val="single", sz=str(rule[1]), space="1", color=rule[0]))
        ppr.append(borders)
    spacing: dict[str, str] = {}
    if space_before is not None:
        spacing["before"] = str(round(space_before * 20))
    if space_after is not None:
        spacing["after"] = str(round(space_after * 20))
    if line is not None:
        spacing["line"] = str(round(line * 240))
        spacing["lineRule"] = "auto"
    if spacing:
        ppr.append(_el("w:spacing", **spacing))
    if align:
        ppr.append(
            _el(
                "w:jc",
                val={"justify": "both", "center": "center", "right": "right", "left": "left"}[
                    align
                ],
            )
        )
    return ppr


def new_paragraph(
    text: str = "",
    *,
    align: str | None = None,
    bold: bool = False,
    size: float | None = None,
    color: str | None = None,
    space_before: float | None = None,
    space_after: float | None = None,
    keep_with_next: bool = False,
    italic: bool = False,
    rule: tuple[str, int] | None = None,
    line: float | None = None,
) -> Any:
    p = OxmlElement("w:p")
    ppr = _ppr(align, space_before, space_after, keep_with_next, rule, line)
    if len(ppr):
        p.append(_clone(ppr))
    if text:
        add_run(p, text, bold=bold, size=size, color=color, italic=italic)
    return p


def _body_append(doc: Any, element: Any) -> None:
    """Add a block element at the end of the body (before the final section properties)."""
    body = doc.element.body
    sect = body.find(qn("w:sectPr"))
    if sect is not None:
        sect.addprevious(element)
    else:
        body.append(element)


def paragraph(doc: Any, text: str = "", **fmt: Any) -> Any:
    """A body paragraph; returns its `w:p` element (add more runs with `add_run`)."""
    p = new_paragraph(text, **fmt)
    _body_append(doc, p)
    return p


# -- tables -------------------------------------------------------------------------------


def _tbl(widths_cm: Sequence[float], *, borders: str | None, center: bool) -> Any:
    """`w:tbl` with properties (style-free) and grid, in schema order."""
    tbl = OxmlElement("w:tbl")
    pr = OxmlElement("w:tblPr")
    total = sum(int(Cm(w).twips) for w in widths_cm)
    pr.append(_el("w:tblW", w=str(total), type="dxa"))
    if center:
        pr.append(_el("w:jc", val="center"))
    edges = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        if borders is None:
            edges.append(_el(f"w:{edge}", val="nil"))
        else:
            edges.append(_el(f"w:{edge}", val="single", sz="4", space="0", color=borders))
    pr.append(edges)
    pr.append(_el("w:tblLayout", type="fixed"))
    margins = OxmlElement("w:tblCellMar")
    for edge, value in (("top", 30), ("left", 80), ("bottom", 30), ("right", 80)):
        margins.append(_el(f"w:{edge}", w=str(value), type="dxa"))
    pr.append(margins)
    pr.append(
        _el(
            "w:tblLook",
            val="0000",
            firstRow="0",
            lastRow="0",
            firstColumn="0",
            lastColumn="0",
            noHBand="1",
            noVBand="1",
        )
    )
    tbl.append(pr)
    grid = OxmlElement("w:tblGrid")
    for w in widths_cm:
        grid.append(_el("w:gridCol", w=str(int(Cm(w).twips))))
    tbl.append(grid)
    return tbl


def _tr(*, header: bool) -> Any:
    tr = OxmlElement("w:tr")
    pr = OxmlElement("w:trPr")
    pr.append(_el("w:cantSplit"))
    if header:
        pr.append(_el("w:tblHeader"))
    tr.append(pr)
    return tr


def _tc(width_cm: float, fill: str | None) -> Any:
    tc = OxmlElement("w:tc")
    pr = OxmlElement("w:tcPr")
    pr.append(_el("w:tcW", w=str(int(Cm(width_cm).twips)), type="dxa"))
    if fill:
        pr.append(_el("w:shd", val="clear", color="auto", fill=fill))
    tc.append(pr)
    return tc


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
    """A bordered table with a shaded header row that repeats on each page; zebra rows.

    `highlight[r][c]` marks changed cells (used by the revision comparison).
    """
    aligns = list(align or ["left"] * len(headers))
    tbl = _tbl(widths_cm, borders=BORDER, center=True)
    head = _tr(header=True)
    for text, width in zip(headers, widths_cm, strict=True):
        tc = _tc(width, ACCENT)
        tc.append(
            new_paragraph(
                text, bold=True, size=size, color="FFFFFF", space_before=0, space_after=0, line=1.0
            )
        )
        head.append(tc)
    tbl.append(head)
    for r, values in enumerate(rows):
        tr = _tr(header=False)
        for c, (text, width) in enumerate(zip(values, widths_cm, strict=True)):
            fill = CHANGED if highlight and highlight[r][c] else (ZEBRA if r % 2 else None)
            tc = _tc(width, fill)
            tc.append(
                new_paragraph(
                    text,
                    size=size,
                    align=None if aligns[c] == "left" else aligns[c],
                    space_before=0,
                    space_after=0,
                    line=1.0,
                )
            )
            tr.append(tc)
        tbl.append(tr)
    _body_append(doc, tbl)
    return tbl


def plain_table(
    doc: Any,
    rows: Sequence[Sequence[str | Sequence[Line]]],
    widths_cm: Sequence[float],
    *,
    keep_together: bool = False,
) -> Any:
    """A borderless layout table (parties, signatures); a cell is text or formatted lines."""
    tbl = _tbl(widths_cm, borders=None, center=False)
    for values in rows:
        tr = _tr(header=False)
        for value, width in zip(values, widths_cm, strict=True):
            tc = _tc(width, None)
            lines = [Line(value, size=10)] if isinstance(value, str) else list(value) or [Line("")]
            for line in lines:
                tc.append(
                    new_paragraph(
                        line.text,
                        bold=line.bold,
                        size=line.size,
                        color=line.color,
                        space_before=line.space_before,
                        space_after=0,
                        keep_with_next=keep_together,
                        line=1.1,
                    )
                )
            tr.append(tc)
        tbl.append(tr)
    _body_append(doc, tbl)
    return tbl


# -- document -----------------------------------------------------------------------------


def set_fonts(style: Any, latin: str = LATIN_FONT, cjk: str = CJK_FONT) -> None:
    """Latin and East Asian font on a style (python-docx only sets the Latin one)."""
    style.font.name = latin
    rpr = style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr in ("w:ascii", "w:hAnsi", "w:cs"):
        fonts.set(qn(attr), latin)
    fonts.set(qn("w:eastAsia"), cjk)


def new_document(*, landscape: bool = False) -> Any:
    """A4 with sober margins, 10.5 pt body text (Chinese 五号), fonts that cover CJK."""
    return Document(io.BytesIO(_base_document(landscape)))


#: Parts of python-docx's default template that our documents never use. Dropping them
#: (and ~350 KB of unused style definitions) makes every document faster to open and save.
_UNUSED_PARTS = re.compile(
    r"^(word/stylesWithEffects\.xml|word/numbering\.xml|docProps/thumbnail\.jpeg|customXml/.*)$"
)
_UNUSED_TARGETS = re.compile(
    r"<Relationship [^>]*Target=\"(stylesWithEffects\.xml|numbering\.xml|\.\./customXml/[^\"]*|"
    r"docProps/thumbnail\.jpeg)\"[^>]*/>"
)
_UNUSED_TYPES = re.compile(
    r"<Override [^>]*PartName=\"/(word/stylesWithEffects\.xml|word/numbering\.xml|customXml/[^\"]*|"
    r"docProps/thumbnail\.jpeg)\"[^>]*/>"
)


@lru_cache(maxsize=2)
def _base_document(landscape: bool) -> bytes:
    """The empty styled document every rendering starts from (built once per process)."""
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
    styles = doc.styles.element
    for child in list(styles):
        keep = child.tag == qn("w:docDefaults") or (
            child.tag == qn("w:style")
            and (child.get(qn("w:default")) == "1" or child.get(qn("w:styleId")) == "Normal")
        )
        if not keep:
            styles.remove(child)
    section.header.is_linked_to_previous = False
    section.footer.is_linked_to_previous = False
    return _strip_unused(to_bytes(doc))


def _strip_unused(content: bytes) -> bytes:
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(content)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            if _UNUSED_PARTS.match(info.filename):
                continue
            data = src.read(info.filename)
            if info.filename.endswith(".rels"):
                data = _UNUSED_TARGETS.sub("", data.decode("utf-8")).encode("utf-8")
            elif info.filename == "[Content_Types].xml":
                data = _UNUSED_TYPES.sub("", data.decode("utf-8")).encode("utf-8")
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_EPOCH)
            entry.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(entry, data)
    return out.getvalue()


def add_field(para: Any, instruction: str, *, size: float = 8, color: str = GREY) -> None:
    """A Word field (PAGE, NUMPAGES) that the word processor fills in: begin, instruction,
    separator, placeholder result and end each in their own run, all with the same look."""
    instr = OxmlElement("w:instrText")
    instr.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
    instr.text = f" {instruction} "
    result = OxmlElement("w:t")
    result.text = "1"
    for part in (
        _el("w:fldChar", fldCharType="begin"),
        instr,
        _el("w:fldChar", fldCharType="separate"),
        result,
        _el("w:fldChar", fldCharType="end"),
    ):
        run = add_run(para, "", size=size, color=color)
        run.append(part)


def letterhead(doc: Any, line_zh: str, line_en: str, footer_left: str) -> None:
    """Company name at the top of every page; reference and page x of y at the bottom."""
    section = doc.sections[0]
    header = section.header.paragraphs[0]._p
    head = new_paragraph(rule=(ACCENT, 8))
    add_run(head, line_zh, bold=True, size=10, color=ACCENT)
    add_run(head, "    " + line_en, size=8, color=GREY)
    header.addprevious(head)
    header.getparent().remove(header)
    footer = section.footer.paragraphs[0]._p
    foot = new_paragraph(align="center")
    add_run(foot, footer_left + "    第 ", size=8, color=GREY)
    add_field(foot, "PAGE")
    add_run(foot, " 页 / 共 ", size=8, color=GREY)
    add_field(foot, "NUMPAGES")
    add_run(foot, " 页    Page ", size=8, color=GREY)
    add_field(foot, "PAGE")
    add_run(foot, " of ", size=8, color=GREY)
    add_field(foot, "NUMPAGES")
    footer.addprevious(foot)
    footer.getparent().remove(footer)


def core_properties(doc: Any, *, title: str, subject: str, author: str) -> None:
    props = doc.core_properties
    props.title = xml_safe(title)[:255]
    props.subject = xml_safe(subject)[:255]
    props.author = xml_safe(author)[:255]
    props.keywords = "contractflow"


#: Every part gets this timestamp, so the same contract always gives the same bytes.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def to_bytes(doc: Any) -> bytes:
    """The .docx as bytes, reproducible: python-docx stamps each zip entry with the wall
    clock, so two renderings a second apart would differ; we write the package ourselves
    (python-docx's own part order and content) with a fixed stamp on every entry, in one
    pass instead of saving and then re-stamping a second zip."""
    from docx.opc.pkgwriter import PackageWriter

    package = doc.part.package
    parts = list(package.parts)
    for part in parts:
        part.before_marshal()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zipf:
        writer = _StampedWriter(zipf)
        PackageWriter._write_content_types_stream(writer, parts)
        PackageWriter._write_pkg_rels(writer, package.rels)
        PackageWriter._write_parts(writer, parts)  # type: ignore[arg-type]  # duck-typed
    return out.getvalue()


class _StampedWriter:
    """python-docx's `PhysPkgWriter` with every entry stamped `_ZIP_EPOCH`."""

    def __init__(self, zipf: zipfile.ZipFile) -> None:
        self._zipf = zipf

    def write(self, pack_uri: Any, blob: bytes) -> None:
        entry = zipfile.ZipInfo(pack_uri.membername, date_time=_ZIP_EPOCH)
        entry.compress_type = zipfile.ZIP_DEFLATED
        self._zipf.writestr(entry, blob)
