"""What every notifier shares: the message it is given, what it answers, how it fails."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from monitor.config import NotifyConfig


@dataclass(frozen=True)
class OutgoingMessage:
    """One notification from the outbox, as a notifier sees it."""

    notification_id: int
    alarm_id: int | None
    channel: str
    address: str  # phone number in E.164 for sms and voice
    body: str
    recipient_name: str | None = None
    # Public URL of the daemon, for Twilio status callbacks and key-press actions.
    callback_base: str | None = None


@dataclass
class SendResult:
    """What the provider answered: its id for the message, and our state of it."""

    provider_id: str | None
    status: str  # "sent": accepted by the provider; "delivered": reached its end


class NotifyError(Exception):
    """A send that failed; `permanent` means retrying the same message cannot succeed."""

    def __init__(self, message: str, *, permanent: bool = False, code: str | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code

    def __repr__(self) -> str:
        return f"NotifyError({str(self)!r}, permanent={self.permanent}, code={self.code!r})"


class Notifier(Protocol):
    """One channel (sms, voice, webhook, log) behind the smallest interface."""

    channel: ClassVar[str]

    def __init__(self, config: NotifyConfig, callback_base: str | None = None) -> None: ...

    @property
    def is_noop(self) -> bool:
        """True when the channel is not configured: `send` would fail permanently."""
        ...

    async def send(self, message: OutgoingMessage) -> SendResult:
        """Hand the message to the provider; raise NotifyError when that fails."""
        ...

    async def aclose(self) -> None:
        """Release connections; called once at shutdown."""
        ...


def not_configured(channel: str) -> NotifyError:
    """The error of a send on a channel that lacks its settings."""
    return NotifyError(f"channel {channel} is not configured", permanent=True,
                       code="not_configured")
