"""What the Twilio SMS and voice notifiers share: the client, the base URL, the error map."""

from __future__ import annotations

import logging
from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit

import httpx
from twilio.base.exceptions import TwilioException
from twilio.http import AsyncHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from monitor.config import NotifyConfig
from monitor.notify.base import NotifyError, OutgoingMessage, SendResult, not_configured
from monitor.notify.http import HttpNotifier, transport_error

logger = logging.getLogger(__name__)

# Error codes that say the address itself cannot be reached this way: retrying is useless,
# the escalation moves on (21614, a landline, falls back to a voice call).
PERMANENT_CODES: dict[int, str] = {
    21211: "invalid To number",
    21217: "number does not appear to be valid",
    21408: "sending to this region is not enabled",
    21610: "recipient has unsubscribed (STOP)",
    21614: "To is not a mobile number",
}


def rebase_url(url: str, base_url: str) -> str:
    """https://api.twilio.com/2010-04-01/X -> {base_url}/2010-04-01/X (a path prefix is kept)."""
    base = urlsplit(base_url)
    parts = urlsplit(url)
    return urlunsplit(
        (base.scheme, base.netloc, base.path.rstrip("/") + parts.path, parts.query, "")
    )


class TwilioHttpx(AsyncHttpClient):
    """The twilio library's HTTP seam, served by our httpx client, pointed at api_base_url."""

    def __init__(self, owner: HttpNotifier, base_url: str | None) -> None:
        super().__init__(logging.getLogger("twilio.http_client"), True, owner.timeout_s)
        self._owner = owner
        self._base_url = base_url or None

    async def request(  # type: ignore[override]  # twilio's signature is untyped dicts
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        """Send one API request; httpx errors propagate to the notifier unchanged."""
        url = rebase_url(uri, self._base_url) if self._base_url else uri
        answer = await self._owner.client.request(
            method,
            url,
            params=params,  # type: ignore[arg-type]
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            follow_redirects=allow_redirects,
        )
        return Response(answer.status_code, answer.text, answer.headers)


def twilio_error(exc: TwilioException, what: str) -> NotifyError:
    """Map a Twilio API error to NotifyError: known address errors are permanent."""
    status = getattr(exc, "status", None)
    raw_code = getattr(exc, "code", None)
    # Without a JSON body the library puts the HTTP status where the code goes.
    code = raw_code if isinstance(raw_code, int) and raw_code != status else None
    reason = getattr(exc, "msg", None) or getattr(exc, "title", None) or type(exc).__name__
    if code in PERMANENT_CODES:
        return NotifyError(f"{what}: {code} {PERMANENT_CODES[code]}: {reason}",
                           permanent=True, code=str(code))
    # Everything else is retried: 429 and 5xx pass, and an account problem (credentials,
    # balance, sender number) may be fixed by the operator before the attempts run out.
    label = str(code) if code is not None else (f"http_{status}" if status else None)
    return NotifyError(f"{what}: HTTP {status} {label}: {reason}", permanent=False, code=label)


def callback_url(base: str | None, kind: str, notification_id: int) -> str | None:
    """{base}/api/twilio/{kind}/{notification_id}, or None without a public URL."""
    if not base:
        return None
    return f"{base.rstrip('/')}/api/twilio/{kind}/{notification_id}"


class TwilioNotifier(HttpNotifier):
    """Common ground of Twilio SMS and voice; subclasses create the resource."""

    channel: ClassVar[str]

    def __init__(self, config: NotifyConfig, callback_base: str | None = None) -> None:
        super().__init__(config.timeout_s)
        self.settings = config.twilio
        self.callback_base = callback_base
        self._twilio: Client | None = None

    @property
    def is_noop(self) -> bool:
        s = self.settings
        return not (s.account_sid and s.auth_token and s.from_number)

    @property
    def twilio(self) -> Client:
        """The twilio REST client, talking through our HTTP client."""
        if self._twilio is None:
            s = self.settings
            self._twilio = Client(
                username=s.account_sid,
                password=s.auth_token,
                account_sid=s.account_sid,
                http_client=TwilioHttpx(self, s.api_base_url),
            )
        return self._twilio

    @property
    def from_number(self) -> str:
        return self.settings.from_number or ""

    async def send(self, message: OutgoingMessage) -> SendResult:
        """Create the message or call at Twilio; map every failure to NotifyError."""
        if self.is_noop:
            raise not_configured(self.channel)
        what = f"{self.channel} notification {message.notification_id}"
        try:
            result = await self._create(message, message.callback_base or self.callback_base)
        except TwilioException as exc:
            raise twilio_error(exc, what) from exc
        except httpx.HTTPError as exc:
            raise transport_error(exc, what) from exc
        logger.info("%s accepted by Twilio as %s (%s)", what, result.provider_id, result.status)
        return result

    async def _create(self, message: OutgoingMessage, callback_base: str | None) -> SendResult:
        raise NotImplementedError
