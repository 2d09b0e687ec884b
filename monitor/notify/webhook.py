"""A signed JSON POST of every notification to one configured URL."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import ClassVar

import httpx

from monitor.config import NotifyConfig
from monitor.notify.base import OutgoingMessage, SendResult, not_configured
from monitor.notify.http import HttpNotifier, status_error, transport_error

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Tanfang-Signature"
TIMESTAMP_HEADER = "X-Tanfang-Timestamp"


def sign_body(secret: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of the raw body>`, the value of X-Tanfang-Signature."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """Whether X-Tanfang-Signature matches the raw body (for receivers and tests)."""
    if not header:
        return False
    return hmac.compare_digest(sign_body(secret, body), header.strip())


def payload(message: OutgoingMessage, timestamp: int) -> bytes:
    """The JSON body; the timestamp is inside it too, so the signature covers it."""
    document = {
        "notification_id": message.notification_id,
        "alarm_id": message.alarm_id,
        "channel": message.channel,
        "address": message.address,
        "recipient_name": message.recipient_name,
        "body": message.body,
        "timestamp": timestamp,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Webhook(HttpNotifier):
    """Posts to notify.webhook.url; 4xx is permanent, 429, 5xx and timeouts are not."""

    channel: ClassVar[str] = "webhook"

    def __init__(self, config: NotifyConfig, callback_base: str | None = None) -> None:
        super().__init__(config.timeout_s)
        self.url = config.webhook.url
        self.secret = config.webhook.secret
        if self.url and not self.secret:
            logger.warning("notify.webhook.secret is empty: webhook calls go unsigned")

    @property
    def is_noop(self) -> bool:
        return not self.url

    async def send(self, message: OutgoingMessage) -> SendResult:
        """POST the signed JSON; the answer's status decides success."""
        if not self.url:
            raise not_configured(self.channel)
        what = f"webhook notification {message.notification_id}"
        timestamp = int(time.time())
        body = payload(message, timestamp)
        headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: str(timestamp)}
        if self.secret:
            headers[SIGNATURE_HEADER] = sign_body(self.secret, body)
        try:
            answer = await self.client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise transport_error(exc, what) from exc
        if not answer.is_success:
            raise status_error(answer.status_code, what)
        logger.info("%s posted (HTTP %s)", what, answer.status_code)
        return SendResult(provider_id=answer.headers.get("X-Request-Id"), status="delivered")

