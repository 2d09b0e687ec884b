"""What a line-protocol backend client must do, and the two ways a write can fail."""

from __future__ import annotations

from typing import Any, Protocol


class BackendUnavailable(Exception):
    """The backend cannot take the batch now (down, 5xx, auth, no database): spool and retry."""


class BatchRejected(Exception):
    """The backend refuses the batch itself (4xx): some line in it is bad."""


class LineWriter(Protocol):
    """A client of one InfluxDB API: v1 today; a v2 or v3 client would sit beside it."""

    async def prepare(self) -> None:
        """Make sure the database exists, where the API allows it; never raises."""

    async def write(self, lines: list[str]) -> None:
        """Write one batch; raise BackendUnavailable or BatchRejected."""

    async def query(self, statement: str) -> list[dict[str, Any]]:
        """Run an InfluxQL statement; return the series of its first result."""

    async def aclose(self) -> None:
        """Release the connection pool."""
