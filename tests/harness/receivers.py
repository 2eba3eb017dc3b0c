"""Real receivers on loopback for the notification tests: an HTTP webhook server and an SMTP server."""
from __future__ import annotations

import json
import os
import ssl
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tests.harness.processes import free_port, missing_tool


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
    openssl = shutil.which("openssl") or missing_tool("openssl", "apt-get install -y openssl")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    os.environ["SSL_CERT_FILE"] = str(cert)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when the request had arrived
    status: int = 0

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class HookServer:
    """A webhook receiver on loopback, ``http.server`` in a thread (the tests' too). ``answers`` are the statuses of the first requests, in order;
    after them every request gets ``200``. ``before_answer`` runs between reading a request and
    answering it (a test can kill the service there)."""

    answers: list[int] = field(default_factory=list)
    before_answer: Callable[[Hit], None] | None = None
    hits: list[Hit] = field(default_factory=list)

    def __post_init__(self) -> None:
        server = self
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hit = Hit(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time())
                with server.lock:
                    hit.status = server.answers.pop(0) if server.answers else 200
                    server.hits.append(hit)
                if server.before_answer is not None:
                    server.before_answer(hit)
                reply = b'{"errcode": 0, "errmsg": "ok"}' if hit.status == 200 else b'{"error": "try later"}'
                try:
                    self.send_response(hit.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:  # the client is gone (killed): nothing to answer
                    pass

            def log_message(self, *args) -> None:
                pass

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def arrivals(self) -> dict[str, tuple[float, dict]]:
        """Alert id → (arrival epoch, alert JSON) of its first delivery in a ``json`` message."""
        first: dict[str, tuple[float, dict]] = {}
        for hit in self.delivered():
            for alert in hit.json["alerts"]:
                first.setdefault(alert["id"], (hit.at, alert))
        return first

    def delivered(self) -> list[Hit]:
        """Requests answered 200."""
        with self.lock:
            return [h for h in self.hits if h.status == 200]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
