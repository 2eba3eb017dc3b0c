"""One interface for every way out: the SSE stream, the MQTT alerts topic, webhooks and e-mail."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence


class ChannelError(Exception):
    """A batch that did not go out; ``retryable`` says whether sending it again can help
    (a network error, a timeout, a busy server) or not (the other side refuses it for good)."""

    def __init__(self, message: str, retryable: bool, retry_after: float | None = None, delivered: int = 0) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        #: how many leading changes of the batch did go out before the error (e.g. MQTT PUBACKs)
        self.delivered = delivered


@dataclass(frozen=True)
class Batch:
    """Alert changes to send together. ``id`` is the same on every retry of the same batch, so the
    other side can de-duplicate; ``group`` names what the changes have in common (may be empty)."""

    id: str
    changes: Sequence[dict[str, Any]]  # {"seq", "action", "alert": SPEC §5 alert JSON}
    group: dict[str, str] = field(default_factory=dict)
    receiver: str = ""

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return [change["alert"] for change in self.changes]


class Channel(Protocol):
    name: str

    def ready(self) -> bool:
        """Whether sending can succeed now (e.g. the MQTT connection is up)."""

    def send(self, batch: Batch) -> None:
        """Deliver the batch, or raise :class:`ChannelError`."""
