"""A bounded on-disk FIFO of line batches, kept while the telemetry backend is away."""

from __future__ import annotations

import gzip
import json
import logging
import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

SUFFIX = ".spool"


@dataclass(frozen=True, slots=True)
class Segment:
    """One spooled batch: a file named `{seq}-{lines}.spool` holding gzip'd JSON of its lines."""

    seq: int
    lines: int
    size: int
    path: Path


class Spool:
    """Batches on disk in arrival order; past `max_bytes` the oldest batches are dropped."""

    def __init__(self, directory: str | Path, max_bytes: int) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segments: deque[Segment] = deque()
        self.bytes = 0
        self.dropped_lines = 0
        self._next_seq = 0
        self._load()

    def _load(self) -> None:
        """Pick up what a previous run left behind, so a restart loses nothing."""
        self.directory.mkdir(parents=True, exist_ok=True)
        found: list[Segment] = []
        for path in self.directory.iterdir():
            if path.suffix == ".tmp":
                path.unlink(missing_ok=True)
                continue
            if path.suffix != SUFFIX:
                continue
            try:
                seq_text, lines_text = path.stem.split("-")
                found.append(Segment(int(seq_text), int(lines_text), path.stat().st_size, path))
            except (ValueError, OSError):
                logger.warning("ignoring unexpected file %s in the spool", path)
        for segment in sorted(found, key=lambda s: s.seq):
            self.segments.append(segment)
            self.bytes += segment.size
        if self.segments:
            self._next_seq = self.segments[-1].seq + 1
            logger.info("spool holds %s batches (%s bytes) from before", len(self), self.bytes)

    def __len__(self) -> int:
        return len(self.segments)

    @property
    def lines(self) -> int:
        return sum(s.lines for s in self.segments)

    def append(self, lines: list[str]) -> int:
        """Spool one batch at the tail; return how many old lines were dropped to make room."""
        data = gzip.compress(json.dumps(lines, ensure_ascii=False).encode("utf-8"), 1)
        seq = self._next_seq
        self._next_seq += 1
        path = self.directory / f"{seq:016d}-{len(lines)}{SUFFIX}"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        self.segments.append(Segment(seq, len(lines), len(data), path))
        self.bytes += len(data)
        dropped = 0
        while self.bytes > self.max_bytes and len(self.segments) > 1:
            dropped += self._discard(self.segments.popleft())
        if self.bytes > self.max_bytes:  # a single batch larger than the whole spool
            dropped += self._discard(self.segments.popleft())
        self.dropped_lines += dropped
        return dropped

    def _discard(self, segment: Segment) -> int:
        segment.path.unlink(missing_ok=True)
        self.bytes -= segment.size
        return segment.lines

    def peek(self) -> tuple[int, list[str]] | None:
        """The oldest batch and its sequence number, or None when the spool is empty."""
        while self.segments:
            head = self.segments[0]
            try:
                lines: list[str] = json.loads(gzip.decompress(head.path.read_bytes()))
                return head.seq, lines
            except (OSError, ValueError, EOFError):
                logger.exception("unreadable spool file %s; dropping it", head.path)
                self.dropped_lines += self._discard(self.segments.popleft())
        return None

    def pop(self, seq: int) -> None:
        """Remove batch `seq` once written, if still the head (it may have been dropped)."""
        if self.segments and self.segments[0].seq == seq:
            self._discard(self.segments.popleft())
