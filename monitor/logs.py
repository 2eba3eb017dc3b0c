"""Logging that never writes a secret (SPEC §6): tokens, passwords and ``?token=`` values are redacted.

Redaction happens where every log record is made (a record factory), so it covers every logger
and every handler — werkzeug's access log (``GET /?token=smk_…``), gunicorn's, the libraries' —
and again in the formatter for exception texts. Besides the patterns, the secrets this process was
configured with (bootstrap token and password, MQTT password, session key) are hidden wherever
they appear.
"""
from __future__ import annotations

import logging
import re
import threading

REDACTED = "[redacted]"
_PATTERNS = (
    # a token in a query string or form body, however it is spelled or encoded
    (re.compile(r"(?i)((?:^|[?&;\s\"'])(?:token|access_token|password|passwd|secret)=)[^&\s\"';]*"), rf"\1{REDACTED}"),
    (re.compile(r"(?i)(\bbearer\s+)[^\s\"',;]+"), rf"\1{REDACTED}"),
    (re.compile(r"\bsmk_[A-Za-z0-9_-]+"), f"smk_{REDACTED}"),
    (re.compile(r"(?i)([\"']?(?:password|passwd|secret_key|secret|token)[\"']?\s*[:=]\s*[\"']?)[^\s&\"',;}]+"),
     rf"\1{REDACTED}"),
    # credentials in URLs: postgresql://user:secret@host, mqtt://user:secret@host
    (re.compile(r"(://[^/\s:@]*:)[^@\s/]+@"), rf"\1{REDACTED}@"),
)
_known: set[str] = set()
_lock = threading.Lock()
_installed = False


def hide(*secrets: str | None) -> None:
    """Redact these exact values from every log line from now on (short values are ignored:
    a 3-character "secret" would blank out ordinary words)."""
    with _lock:
        _known.update(s for s in secrets if isinstance(s, str) and len(s) >= 6)


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    for secret in sorted(_known, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def _install_record_factory() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        make = logging.getLogRecordFactory()

        def factory(*args, **kwargs) -> logging.LogRecord:
            record = make(*args, **kwargs)
            try:
                message = record.getMessage()
            except Exception:  # noqa: BLE001 - a broken format string is logging's to report
                return record
            clean = redact(message)
            if clean != message:
                record.msg, record.args = clean, None
            return record

        logging.setLogRecordFactory(factory)
        _installed = True


#: loggers whose INFO lines are noise on a console: a migration check on every command, a line per request
CHATTY = ("alembic", "werkzeug")


def configure(level: str = "INFO", verbose: bool = False) -> None:
    """The process's logging: one stream handler on the root logger, secrets redacted everywhere;
    Alembic's and werkzeug's INFO lines only when ``verbose`` (``python -m monitor -v …``)."""
    _install_record_factory()
    logging.basicConfig(level=level)
    formatter = RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.WARNING)


_install_record_factory()
