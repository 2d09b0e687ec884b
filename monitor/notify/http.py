"""The base of notifiers that speak HTTP: it owns the client, the time limit and the retries."""

from __future__ import annotations

import httpx

from monitor.notify.base import NotifyError

# Only failed connects are retried here: the request never left, so nothing is sent twice.
# Every other failure goes back to the outbox, which retries with backoff.
CONNECT_RETRIES = 1


class HttpNotifier:
    """Holds one httpx.AsyncClient per notifier; subclasses build the request."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        """The client, made on first use so that it belongs to the running event loop."""
        if self._client is None or self._client.is_closed:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout_s),
                transport=httpx.AsyncHTTPTransport(retries=CONNECT_RETRIES),
                follow_redirects=False,
            )
        return self._client

    async def aclose(self) -> None:
        """Close the client's connections."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def transport_error(exc: httpx.HTTPError, what: str) -> NotifyError:
    """A timeout or a broken connection: worth another attempt later."""
    code = "timeout" if isinstance(exc, httpx.TimeoutException) else "connection"
    return NotifyError(f"{what}: {code}: {exc!r}", permanent=False, code=code)


def status_error(status: int, what: str) -> NotifyError:
    """An HTTP status without a provider code: 429 and 5xx pass, other 4xx will not."""
    transient = status == 429 or status >= 500
    return NotifyError(f"{what}: HTTP {status}", permanent=not transient, code=f"http_{status}")
