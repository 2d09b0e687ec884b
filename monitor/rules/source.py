"""The live rules: reread when rules.yaml changes (mtime) or on SIGHUP; a bad file keeps the old."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from monitor.errors import ConfigError
from monitor.rules.settings import Rules, read_rules

logger = logging.getLogger(__name__)


class RulesSource:
    """Holds the current Rules and reloads them when the file changes."""

    def __init__(self, path: str | Path | None = None, rules: Rules | None = None) -> None:
        self.path = Path(path) if path else None
        self._mtime: float | None = None
        self._forced = False
        self.rules = rules if rules is not None else read_rules(self.path)
        if self.path is not None:
            self._mtime = self._stat()

    def _stat(self) -> float | None:
        assert self.path is not None
        try:
            return os.stat(self.path).st_mtime
        except OSError:
            return None

    def request_reload(self) -> None:
        """Reload at the next check (the SIGHUP handler calls this)."""
        self._forced = True

    def current(self) -> Rules:
        """The rules, reloaded first if the file changed or a reload was requested."""
        if self.path is None:
            return self.rules
        mtime = self._stat()
        if mtime == self._mtime and not self._forced:
            return self.rules
        self._forced = False
        self._mtime = mtime  # a bad file is reported once, not at every check
        try:
            self.rules = read_rules(self.path)
        except ConfigError as exc:
            logger.error("rules not reloaded, keeping the previous ones: %s", exc)
            return self.rules
        logger.info("rules reloaded from %s", self.path)
        return self.rules
