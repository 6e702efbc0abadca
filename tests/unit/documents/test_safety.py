"""Bad uploads are refused before any parser sees them, each with a message to act on."""

from __future__ import annotations

import io
import zipfile

import pytest

from engine.documents.intake import extract_contract
from engine.documents.safety import Limits
from engine.errors import InvalidInput, TooLarge
from tests.unit.documents.support import example, render

DOCM_TYPE = "application/vnd.ms-word.document.macroEnabled.main+xml"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"


@pytest.fixture(scope="module")
def good() -> bytes:
    return render(example("SC-2026-0042"))


def rezip(
    content: bytes, *, replace: dict[str, bytes] | None = None, add: dict[str, bytes] | None = None
) -> bytes:
    """The same archive with some parts replaced or added."""
    replace, add = replace or {}, add or {}
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(content)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            dst.writestr(info.filename, replace.get(info.filename, src.read(info.filename)))
        for name, data in add.items():
            dst.writestr(name, data)
    return out.getvalue()


def refused(content: bytes, name: str = "draft.docx", limits: Limits | None = None) -> str:
    with pytest.raises(InvalidInput) as err:
        extract_contract(content, name, limits=limits)
    [line] = err.value.lines()
    return line


def test_a_good_document_passes(good: bytes) -> None:
    assert extract_contract(good, "draft.docx").id == "SC-2026-0042"


def test_plain_text_is_not_a_docx() -> None:
    assert refused(b"id: SC-1\ntitle: Pumps\n") == (
        "draft.docx: not a .docx file (a .docx is a zip archive; this is not)"
    )


def test_an_old_binary_word_file_is_named_as_such() -> None:
    line = refused(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "draft.doc")
    assert "old binary Word (.doc) file or a password-protected document" in line
    assert "save it as a plain .docx" in line


def test_a_truncated_archive_is_corrupt(good: bytes) -> None:
    assert refused(good[: len(good) // 2]).startswith("draft.docx: corrupt .docx archive")


def test_a_damaged_part_is_corrupt(good: bytes) -> None:
    data = bytearray(good)
    start = data.index(b"word/document.xml") + len(b"word/document.xml")
    for i in range(start + 40, start + 240):  # scramble compressed bytes of document.xml
        data[i] ^= 0x5A
    assert refused(bytes(data)).startswith("draft.docx: corrupt .docx archive")


def test_a_zip_that_is_not_a_word_document_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("hello.txt", "hi")
    assert "not a Word document" in refused(out.getvalue())


def test_a_vba_project_is_refused(good: bytes) -> None:
    line = refused(rezip(good, add={"word/vbaProject.bin": b"\0" * 64}))
    assert "contains macros (vbaProject)" in line


def test_macro_enabled_content_types_are_refused(good: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(good)) as z:
        types = z.read("[Content_Types].xml").decode()
    assert DOCX_TYPE in types
    docm = rezip(
        good, replace={"[Content_Types].xml": types.replace(DOCX_TYPE, DOCM_TYPE).encode()}
    )
    assert "macro-enabled document" in refused(docm)


def test_a_docm_name_is_refused_outright(good: bytes) -> None:
    assert "macro-enabled Word documents (.docm) are refused" in refused(good, "draft.docm")


def test_a_decompression_bomb_is_refused(good: bytes) -> None:
    bomb = rezip(good, add={"word/media/padding.bin": b"\0" * (3 * 1024 * 1024)})
    assert len(bomb) < len(good) + 64 * 1024  # tiny on disk
    line = refused(bomb, limits=Limits(max_uncompressed_bytes=2 * 1024 * 1024))
    assert "expands to more than 2.0 MB when unpacked" in line


def test_a_bomb_that_lies_about_its_size_is_still_caught(good: bytes) -> None:
    bomb = bytearray(rezip(good, add={"word/media/padding.bin": b"\0" * (3 * 1024 * 1024)}))
    # Rewrite the declared uncompressed size in the central directory to 1 KB.
    entry = bomb.rindex(b"PK\x01\x02", 0, bomb.rindex(b"word/media/padding.bin"))
    bomb[entry + 24 : entry + 28] = (1024).to_bytes(4, "little")
    line = refused(bytes(bomb), limits=Limits(max_uncompressed_bytes=2 * 1024 * 1024))
    # zipfile stops at the declared size and the checksum then fails: refused as damaged,
    # never inflated past the limit.
    assert (
        line == "draft.docx: corrupt .docx archive (Bad CRC-32 for file 'word/media/padding.bin')"
    )


def test_a_huge_file_is_refused_as_too_large(good: bytes) -> None:
    with pytest.raises(TooLarge) as err:
        extract_contract(good, "draft.docx", limits=Limits(max_bytes=10 * 1024))
    assert err.value.lines() == [
        f"draft.docx: file is {len(good) / 1024:.0f} KB, over the 10 KB limit for contract documents"
    ]
    assert err.value.http_status == 413


def _with_huge_content_types(good: bytes, padding: int) -> bytes:
    """The document with `[Content_Types].xml` padded by `padding` bytes of whitespace,
    written as a stream so the test itself never holds the inflated part."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(good)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            if info.filename != "[Content_Types].xml":
                dst.writestr(info.filename, src.read(info.filename))
                continue
            with dst.open(info.filename, "w", force_zip64=True) as part:
                part.write(src.read(info.filename))
                block = b" " * (1024 * 1024)
                for _ in range(padding // len(block)):
                    part.write(block)
    return out.getvalue()


def test_inflating_content_types_is_refused_before_the_part_is_read(good: bytes) -> None:
    import tracemalloc

    bomb = _with_huge_content_types(good, 48 * 1024 * 1024)
    assert len(bomb) < 1024 * 1024  # under a megabyte on the wire
    tracemalloc.start()
    try:
        line = refused(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert line == "draft.docx: [Content_Types].xml is implausibly large; refused"
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB while checking"


def test_declared_sizes_past_the_limit_are_refused_before_any_part_is_inflated(
    good: bytes,
) -> None:
    import tracemalloc

    bomb = rezip(good, add={"word/media/padding.bin": b"\0" * (24 * 1024 * 1024)})
    tracemalloc.start()
    try:
        line = refused(bomb, limits=Limits(max_uncompressed_bytes=16 * 1024 * 1024))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "expands to more than 16.0 MB when unpacked" in line
    assert peak < 4 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB while checking"
