"""Real receivers on loopback for the notification tests: an HTTP webhook server and an SMTP server."""
from __future__ import annotations

import os
import ssl
import subprocess
from email import message_from_bytes, policy
from pathlib import Path
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from bench.notify import HookServer  # noqa: F401 - the webhook receiver the benchmark times with
from tests.conftest import free_port


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's name
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 OK"


class SmtpSink:
    """aiosmtpd on a free loopback port, keeping every message it receives; with ``login`` set to
    ``(user, password)`` it asks for that login; with ``tls`` it requires STARTTLS first."""

    def __init__(self, login: tuple[str, str] | None = None, tls: ssl.SSLContext | None = None) -> None:
        self.inbox = _Inbox()
        self.port = free_port()
        options: dict = {"tls_context": tls, "require_starttls": True} if tls else {}
        if login is not None:
            def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
                given = (auth_data.login.decode(), auth_data.password.decode())
                return AuthResult(success=given == login, handled=False)  # not handled: aiosmtpd answers 535

            options.update(authenticator=authenticator, auth_require_tls=tls is not None, auth_required=True)
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()

    @property
    def messages(self) -> list[EmailMessage]:
        return self.inbox.messages

    def close(self) -> None:
        self.controller.stop()


def loopback_certificate(directory: Path) -> ssl.SSLContext:
    """A self-signed certificate for 127.0.0.1 (openssl), trusted by this process's default TLS
    contexts through SSL_CERT_FILE; returns the server's context."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    os.environ["SSL_CERT_FILE"] = str(cert)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context
