"""STARTTLS with certificate verification, then login, against a real TLS-capable server."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path
from typing import Any

import pytest

from engine.services.alerts import list_alerts, run_alerts
from engine.store import models as m
from tests.integration.alerts.support import SmtpServer, add_contract


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (what the sender connects to), and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_starttls_is_used_and_the_certificate_checked_before_logging_in(
    make_rt: Any, people: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    cert, key = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    seen: list[bool] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        seen.append(session.ssl is not None)
        return AuthResult(success=data.password == b"pw", handled=False)

    smtp = SmtpServer()
    controller = Controller(
        smtp.handler,
        hostname="127.0.0.1",
        port=smtp.port,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    controller.start()
    try:
        rt = make_rt(smtp.port, smtp_starttls=True, smtp_user="mailer", smtp_password="pw")
        with rt.db.transaction() as session:
            add_contract(
                session,
                "SC-TLS",
                session.get(m.User, people["alice"]),
                [{"oid": "A", "due": dt.date(2027, 2, 27)}],
            )
        # Without trusting the certificate, the sender refuses the server: nothing is sent.
        assert run_alerts(rt, dt.date(2027, 3, 1), backoff=0.01)["deferred"] == 1
        [row] = list_alerts(rt, "pending")
        assert "CERTIFICATE_VERIFY_FAILED" in row["last_error"]

        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust it, as a real CA would be
        assert run_alerts(rt, dt.date(2027, 3, 1))["sent"] == 1
        assert seen == [True]  # logged in over TLS
        assert smtp.messages[0].recipients == ["alice@example.com"]
    finally:
        controller.stop()
