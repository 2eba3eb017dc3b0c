"""The channels that reach people: webhooks (requests) and e-mail (smtplib), as SPEC §5.1 says.

Retry rule: a network error, a timeout or a ``5xx``/``408``/``429`` answer can pass, so it is
retryable; any other ``4xx`` will not, so it is permanent. The chat platforms answer ``200`` with
an error code in the body when they refuse a message: a rate limit is retryable, anything else
permanent. Error texts never carry the URL's path or query: WeCom, DingTalk, Feishu and Slack put
the robot's key there.
"""
from __future__ import annotations

import smtplib
import ssl
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Callable
from urllib.parse import urlsplit

import requests

from monitor.notify import formats
from monitor.notify.channel import Batch, ChannelError
from monitor.notify.config import Email, Smtp, Webhook

RETRYABLE_STATUS = (408, 429)
#: Platform error codes that mean "too many messages, later": WeCom, DingTalk, Feishu.
RATE_LIMITED = {45009, 130101, 410100, 9499, 11232}


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


class WebhookReceiver:
    def __init__(self, name: str, hook: Webhook, zone_of: formats.ZoneOf, timeout: float,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.name = name
        self.hook = hook
        self.zone_of = zone_of
        self.timeout = timeout
        self.clock = clock
        parts = urlsplit(hook.url)
        self.origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"  # never the path: keys live there
        self.session = requests.Session()

    def ready(self) -> bool:
        return True

    def body(self, batch: Batch, now: datetime) -> tuple[bytes, dict[str, str]]:
        if self.hook.format == "json":
            return formats.encode(formats.json_body(batch, now)), {}
        payload, params = formats.chat_body(self.hook.format, batch, self.zone_of, self.hook.secret, now)
        return formats.encode(payload), params

    def send(self, batch: Batch) -> None:
        now = self.clock()
        body, params = self.body(batch, now)
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "smartmon",
                   "X-Smartmon-Message-Id": batch.id}
        if self.hook.secret:
            headers["X-Smartmon-Signature"] = formats.signature(self.hook.secret, body)
        try:
            response = self.session.post(self.hook.url, data=body, headers=headers, params=params or None,
                                         timeout=self.timeout, allow_redirects=False)
        except requests.Timeout:
            raise ChannelError(f"no answer from {self.origin} within {self.timeout:g}s", retryable=True) from None
        except requests.RequestException as exc:
            raise ChannelError(f"could not reach {self.origin}: {_reason(exc)}", retryable=True) from None
        self._check(response)

    def _check(self, response: requests.Response) -> None:
        status = response.status_code
        answer = response.text[:200].strip().replace("\n", " ")
        if status >= 500 or status in RETRYABLE_STATUS:
            raise ChannelError(f"{self.origin} answered {status} {answer}".strip(), retryable=True,
                               retry_after=_retry_after(response))
        if status >= 300:
            raise ChannelError(f"{self.origin} answered {status} {answer}".strip(), retryable=False)
        if self.hook.format in ("wecom", "dingtalk", "feishu"):
            try:
                reply: Any = response.json()
            except ValueError:
                return  # a proxy or test double that answers plain 200: taken as delivered
            code = reply.get("errcode", reply.get("code", reply.get("StatusCode", 0))) if isinstance(reply, dict) else 0
            if code not in (0, None):
                message = reply.get("errmsg") or reply.get("msg") or reply.get("StatusMessage") or ""
                raise ChannelError(f"{self.origin} refused the message: error {code} {message}".strip(),
                                   retryable=code in RATE_LIMITED)


def _reason(exc: requests.RequestException) -> str:
    """The innermost cause (``Connection refused``), without urllib3's text that names the URL."""
    cause: BaseException = exc
    while True:
        inner = getattr(cause, "reason", None) or cause.__cause__ or cause.__context__
        if inner is None or inner is cause or not isinstance(inner, BaseException):
            break
        cause = inner
    text = str(cause)
    if ": " in text and "url:" not in text:
        text = text.rsplit(": ", 1)[-1]
    if "url:" in text or not text:
        text = type(cause).__name__
    return text[:200]


class EmailReceiver:
    def __init__(self, name: str, mail: Email, smtp: Smtp, zone_of: formats.ZoneOf, timeout: float,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.name = name
        self.mail = mail
        self.smtp = smtp
        self.zone_of = zone_of
        self.timeout = timeout
        self.clock = clock

    def ready(self) -> bool:
        return True

    def message(self, batch: Batch) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = formats.subject(batch)
        message["From"] = self.smtp.sender
        message["To"] = ", ".join(self.mail.to)
        message["Date"] = format_datetime(self.clock())
        # The same Message-ID on every retry lets mail clients and archives fold duplicates.
        message["Message-ID"] = f"<{batch.id}@smartmon>"
        message["X-Smartmon-Message-Id"] = batch.id
        message.set_content(formats.text(batch, self.zone_of, formats.TEXT_LIMITS["email"]) + "\n")
        return message

    def send(self, batch: Batch) -> None:
        smtp = self.smtp
        where = f"{smtp.host}:{smtp.port}"
        try:
            factory = smtplib.SMTP_SSL if smtp.ssl else smtplib.SMTP
            with factory(smtp.host, smtp.port, timeout=self.timeout) as client:
                if smtp.starttls:
                    client.starttls(context=ssl.create_default_context())
                if smtp.username:
                    client.login(smtp.username, smtp.password)
                client.send_message(self.message(batch), from_addr=smtp.sender, to_addrs=list(self.mail.to))
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise ChannelError(f"{where} refused the recipients: {_smtp_text(exc.recipients)}",
                               retryable=all(400 <= c < 500 for c in codes)) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise ChannelError(f"{where}: {exc}", retryable=False) from None
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
            raise ChannelError(f"{where} answered {exc.smtp_code} {text[:200]}",
                               retryable=not 500 <= exc.smtp_code < 600) from None
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timed out, TLS failed
            raise ChannelError(f"could not send through {where}: {type(exc).__name__}: {str(exc)[:200]}",
                               retryable=True) from None


def _smtp_text(recipients: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{address}: {code} {reply.decode(errors='replace')[:100]}"
                     for address, (code, reply) in recipients.items())
