"""Contract documents (.docx) as downloads, for pages and the API alike."""

from __future__ import annotations

from urllib.parse import quote

from fastapi.responses import Response

from engine.services import access
from engine.services.auth import Principal
from engine.services.documents import DocumentFile, contract_document
from engine.services.evaluation_report import report_document
from engine.services.runtime import Runtime


def download(rt: Runtime, user: Principal, code: str, revision: int | None) -> Response:
    """The kept document of a revision (or one rendered from its terms), if `user` may see it."""
    with rt.db.sessions() as session:
        access.require_visible(session, user, code, rt.today())
    return _attachment(contract_document(rt, code, revision=revision))


def download_report(rt: Runtime, user: Principal, code: str) -> Response:
    """The evaluation report kept when the contract entered evaluation (or one written now)."""
    with rt.db.sessions() as session:
        access.require_visible(session, user, code, rt.today())
    return _attachment(report_document(rt, code))


def _attachment(doc: DocumentFile) -> Response:
    return Response(
        doc.content,
        media_type=doc.media_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(doc.filename)}",
            "Cache-Control": "private, no-store",
        },
    )
