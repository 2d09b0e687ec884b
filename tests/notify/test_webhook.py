"""The webhook notifier: signed JSON, status codes."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from monitor.notify import Notifier, NotifyError, OutgoingMessage
from monitor.notify.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_body, verify_signature
from tests.fixtures.twilio import FakeTwilio
from tests.notify.conftest import WEBHOOK_SECRET


async def test_body_is_signed_with_the_secret(
    fake_twilio: FakeTwilio,
    make_notifier: Callable[..., Notifier],
    make_message: Callable[..., OutgoingMessage],
) -> None:
    message = make_message(channel="webhook")
    await make_notifier("webhook").send(message)
    posted = fake_twilio.requests[-1]
    headers = {k.lower(): v for k, v in posted.headers.items()}
    signature = headers[SIGNATURE_HEADER.lower()]
    assert signature.startswith("sha256=")
    assert verify_signature(WEBHOOK_SECRET, posted.body, signature)
    assert not verify_signature("another-secret", posted.body, signature)
    assert not verify_signature(WEBHOOK_SECRET, posted.body + b" ", signature)
    document = json.loads(posted.body)
    assert document["notification_id"] == message.notification_id
    assert document["alarm_id"] == message.alarm_id
    assert document["body"] == message.body
    assert str(document["timestamp"]) == headers[TIMESTAMP_HEADER.lower()]
    assert headers["content-type"] == "application/json"


def test_signature_is_hex_hmac_sha256() -> None:
    # HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), a published vector.
    assert sign_body("key", b"The quick brown fox jumps over the lazy dog") == (
        "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )
    assert not verify_signature("key", b"x", None)


@pytest.mark.parametrize(("status", "permanent"), [(400, True), (404, True), (410, True),
                                                  (429, False), (500, False), (503, False)])
async def test_status_decides_permanence(
    status: int,
    permanent: bool,
    fake_twilio: FakeTwilio,
    make_notifier: Callable[..., Notifier],
    make_message: Callable[..., OutgoingMessage],
) -> None:
    fake_twilio.fail_next(1, status=status)
    with pytest.raises(NotifyError) as caught:
        await make_notifier("webhook").send(make_message(channel="webhook"))
    assert caught.value.permanent is permanent
    assert caught.value.code == f"http_{status}"
