"""A small InfluxDB v1 HTTP client (`/write`, `/query`), which 1.x serves and 2.x/3.x accept."""

from __future__ import annotations

import gzip
import logging
from typing import Any

import httpx

from monitor.config import InfluxConfig
from monitor.telemetry.writer import BackendUnavailable, BatchRejected

logger = logging.getLogger(__name__)

# A 4xx that says nothing about the lines: the operator must act, the data waits in the spool.
NOT_THE_LINES = {401, 403, 404, 408, 429}


class InfluxV1Client:
    """Writes gzip'd line protocol at ms precision and runs InfluxQL, over one httpx client."""

    def __init__(self, config: InfluxConfig) -> None:
        self.config = config
        headers = {"Authorization": f"Token {config.token}"} if config.token else {}
        auth = (
            httpx.BasicAuth(config.username, config.password or "")
            if config.username and not config.token
            else None
        )
        self._http = httpx.AsyncClient(
            base_url=config.url.rstrip("/"), headers=headers, auth=auth,
            timeout=config.timeout_s,
        )
        self._prepared = False

    async def prepare(self) -> None:
        """CREATE DATABASE (idempotent on 1.x); a server that refuses it is left alone."""
        if self._prepared or not self.config.create_database:
            self._prepared = True
            return
        try:
            response = await self._http.post(
                "/query", data={"q": f"CREATE DATABASE {quote_ident(self.config.database)}"}
            )
        except httpx.HTTPError as exc:
            logger.warning("InfluxDB at %s unreachable: %s", self.config.url, exc)
            return
        if response.status_code >= 500:
            return
        if response.status_code != 200 or "error" in response.text:
            logger.info("CREATE DATABASE refused (%s); assuming it exists", response.status_code)
        self._prepared = True

    async def write(self, lines: list[str]) -> None:
        """POST /write?precision=ms; classify failures for the store."""
        await self.prepare()
        body = gzip.compress("\n".join(lines).encode("utf-8"), 1)
        try:
            response = await self._http.post(
                "/write",
                params={"db": self.config.database, "precision": "ms"},
                content=body,
                headers={"Content-Encoding": "gzip", "Content-Type": "text/plain; charset=utf-8"},
            )
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"{type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if status in (200, 204):
            return
        message = _error_text(response)
        if status == 404:
            self._prepared = False  # "database not found": create it on the next attempt
        if status >= 500 or status in NOT_THE_LINES:
            raise BackendUnavailable(f"HTTP {status}: {message}")
        raise BatchRejected(f"HTTP {status}: {message}")

    async def query(self, statement: str) -> list[dict[str, Any]]:
        """GET /query with epoch=ms; raise BackendUnavailable on any failure."""
        try:
            response = await self._http.get(
                "/query", params={"db": self.config.database, "q": statement, "epoch": "ms"}
            )
        except httpx.HTTPError as exc:
            raise BackendUnavailable(str(exc)) from exc
        if response.status_code != 200:
            raise BackendUnavailable(f"HTTP {response.status_code}: {_error_text(response)}")
        result = response.json()["results"][0]
        if "error" in result:
            raise BackendUnavailable(result["error"])
        return list(result.get("series", []))

    async def aclose(self) -> None:
        await self._http.aclose()


def _error_text(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", response.text))[:2000]
    except ValueError:
        return response.text[:2000]


def quote_ident(name: str) -> str:
    """An InfluxQL identifier in double quotes."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_string(value: str) -> str:
    """An InfluxQL string literal in single quotes."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
