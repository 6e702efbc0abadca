"""Checks on an uploaded .docx before any parser sees it.

A .docx is a zip of XML parts. Before python-docx opens one we refuse, each with a message
a user can act on: a file past the size limit; something that is not a zip (an old binary
.doc, a PDF, text); a damaged archive (bad headers or CRC); a macro-enabled document
(.docm content types or a `vbaProject` part); and a decompression bomb — the archive is
inflated in a streaming pass that stops as soon as the real uncompressed total passes the
limit, so a lying size header cannot get past it. XML entities are not expanded later
(python-docx's parser has `resolve_entities=False`), which closes the billion-laughs door.

Order matters: the declared sizes in the central directory are checked before any part is
read, and even the one part we look into first (`[Content_Types].xml`) is read through a
capped stream. A 1 MB archive whose content types inflate to 1 GiB used to be read whole
(2.3 GB of memory, seconds of CPU) just to be told it was "implausibly large".
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass

from engine.errors import InvalidInput, TooLarge

MACRO_CONTENT_TYPES = (
    "application/vnd.ms-word.document.macroEnabled",
    "application/vnd.ms-word.template.macroEnabledTemplate",
    "application/vnd.ms-office.vbaProject",
    "application/vnd.ms-word.vbaData",
    "application/vnd.ms-office.activeX",
)
WORD_MAIN_TYPES = (
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
)
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_CHUNK = 64 * 1024
MAX_CONTENT_TYPES_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Upload limits: the file itself, everything it inflates to, and how many parts."""

    max_bytes: int = 5 * 1024 * 1024
    max_uncompressed_bytes: int = 64 * 1024 * 1024
    max_entries: int = 2000


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    return f"{n / 1024:.0f} KB"


def check_docx(content: bytes, name: str, limits: Limits | None = None) -> None:
    """Raise `InvalidInput` (or `TooLarge`) naming what is wrong; return when safe to parse."""
    limits = limits or Limits()
    if name.lower().endswith((".docm", ".dotm")):
        raise InvalidInput(
            f"{name}: macro-enabled Word documents (.docm) are refused; "
            "save the draft as a plain .docx (Word: File > Save As > Word Document)"
        )
    if len(content) > limits.max_bytes:
        raise TooLarge(
            f"{name}: file is {_size(len(content))}, over the {_size(limits.max_bytes)} limit "
            "for contract documents"
        )
    if content.startswith(OLE_MAGIC):
        raise InvalidInput(
            f"{name}: not a .docx file: this is an old binary Word (.doc) file or a "
            "password-protected document; save it as a plain .docx without a password"
        )
    if not content.startswith(b"PK"):
        raise InvalidInput(f"{name}: not a .docx file (a .docx is a zip archive; this is not)")
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise InvalidInput(f"{name}: corrupt .docx archive ({exc})") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_entries:
            raise InvalidInput(
                f"{name}: archive has {len(infos)} parts (limit {limits.max_entries}); refused"
            )
        _check_declared_sizes(infos, name, limits)
        _check_parts(archive, name)
        _inflate_within_limit(archive, infos, name, limits)


def _check_parts(archive: zipfile.ZipFile, name: str) -> None:
    names = set(archive.namelist())
    if any(n.lower().endswith("vbaproject.bin") for n in names):
        raise InvalidInput(
            f"{name}: contains macros (vbaProject); macro-enabled documents are refused — "
            "save the draft as a plain .docx"
        )
    if "[Content_Types].xml" not in names:
        raise InvalidInput(f"{name}: not a Word document (no [Content_Types].xml in the archive)")
    types = _read_capped(archive, "[Content_Types].xml", name, MAX_CONTENT_TYPES_BYTES)
    text = types.decode("utf-8", errors="replace")
    lowered = text.lower()
    if any(t.lower() in lowered for t in MACRO_CONTENT_TYPES):
        raise InvalidInput(
            f"{name}: macro-enabled document (its content types declare macros); "
            "save the draft as a plain .docx"
        )
    if not any(t in text for t in WORD_MAIN_TYPES):
        raise InvalidInput(
            f"{name}: not a Word document (an Excel, PowerPoint or other Office archive?)"
        )


def _bomb_message(name: str, limits: Limits) -> str:
    return (
        f"{name}: expands to more than {_size(limits.max_uncompressed_bytes)} when unpacked "
        "(a decompression bomb?); refused"
    )


def _check_declared_sizes(infos: list[zipfile.ZipInfo], name: str, limits: Limits) -> None:
    """What the central directory says, checked before a single byte is inflated."""
    if sum(i.file_size for i in infos) > limits.max_uncompressed_bytes:
        raise InvalidInput(_bomb_message(name, limits))
    types = next((i for i in infos if i.filename == "[Content_Types].xml"), None)
    if types is not None and types.file_size > MAX_CONTENT_TYPES_BYTES:
        raise InvalidInput(f"{name}: [Content_Types].xml is implausibly large; refused")


def _read_capped(archive: zipfile.ZipFile, part: str, name: str, cap: int) -> bytes:
    """One part, streamed, refused as soon as it passes `cap` (a header can lie)."""
    chunks: list[bytes] = []
    total = 0
    try:
        with archive.open(part) as stream:
            while chunk := stream.read(_CHUNK):
                total += len(chunk)
                if total > cap:
                    raise InvalidInput(f"{name}: {part} is implausibly large; refused")
                chunks.append(chunk)
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        zlib.error,
        OSError,
        EOFError,
        NotImplementedError,
        ValueError,
    ) as exc:
        if isinstance(exc, InvalidInput):
            raise
        raise InvalidInput(f"{name}: corrupt .docx archive ({exc})") from None
    return b"".join(chunks)


def _inflate_within_limit(
    archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], name: str, limits: Limits
) -> None:
    """Decompress every part, counting real bytes; stop at the limit (headers can lie)."""
    bomb = _bomb_message(name, limits)
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise InvalidInput(f"{name}: encrypted archive parts are not supported")
        total = _inflate_part(archive, info, name, total, limits.max_uncompressed_bytes, bomb)


def _inflate_part(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, total: int, limit: int, bomb: str
) -> int:
    try:
        with archive.open(info) as part:
            while chunk := part.read(_CHUNK):
                total += len(chunk)
                if total > limit:
                    break
    except (
        zipfile.BadZipFile,
        zlib.error,
        OSError,
        EOFError,
        NotImplementedError,
        ValueError,
    ) as exc:
        raise InvalidInput(f"{name}: corrupt .docx archive ({exc})") from None
    if total > limit:
        raise InvalidInput(bomb)
    return total
