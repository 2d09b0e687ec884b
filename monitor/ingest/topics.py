"""Device topics: `tanfang/v1/{device_id}/{event|telemetry|status}`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

TopicKind = Literal["event", "telemetry", "status"]
KINDS: tuple[TopicKind, ...] = ("event", "telemetry", "status")
DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class TopicParser:
    """One compiled pattern for the whole topic family below a prefix."""

    def __init__(self, prefix: str = "tanfang/v1") -> None:
        self.prefix = prefix.rstrip("/")
        self._pattern = re.compile(
            re.escape(self.prefix) + r"/([A-Za-z0-9_-]{1,64})/(event|telemetry|status)"
        )

    def parse(self, topic: str) -> tuple[str, TopicKind] | None:
        """(device_id, kind), or None for a topic outside the protocol."""
        match = self._pattern.fullmatch(topic)
        if match is None:
            return None
        return match.group(1), match.group(2)  # type: ignore[return-value]

    def subscriptions(
        self, shared_group: str | None = None, kinds: Sequence[TopicKind] = KINDS
    ) -> list[str]:
        """The filters the monitor subscribes to (shared among daemons when a group is set)."""
        filters = [f"{self.prefix}/+/{kind}" for kind in kinds]
        if shared_group:
            filters = [f"$share/{shared_group}/{f}" for f in filters]
        return filters


def device_topic(device_id: str, kind: TopicKind, prefix: str = "tanfang/v1") -> str:
    """The topic a device publishes a message of `kind` to."""
    return f"{prefix}/{device_id}/{kind}"
