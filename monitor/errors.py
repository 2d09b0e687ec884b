"""The errors the monitor reports to a person in one line."""

from __future__ import annotations


class TanfangError(Exception):
    """An error with a message fit to show as it is, without a traceback."""


class ConfigError(TanfangError):
    """The configuration file or an environment override is wrong."""


class RegistryError(TanfangError):
    """A registry file is wrong; the message names the row and the field."""
