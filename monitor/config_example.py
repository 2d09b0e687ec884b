"""The documented example configuration, written from the models so it cannot drift from them."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel

from monitor.config import ENV_PREFIX, Config

HEADER = """\
# Tanfang Monitor 探访关爱远程监测: every configuration key, with its default.
# Written by `tanfang config example`; a test checks that it matches the code.
# Every key can also be set by an environment variable TANFANG_<SECTION>__<KEY>,
# e.g. TANFANG_MQTT__HOST=broker.local or TANFANG_NOTIFY__TWILIO__AUTH_TOKEN=...
# (secrets belong in the environment, not in this file).
"""


def _block(key: str, value: Any, pad: str) -> list[str]:
    """`key: value` as YAML lines (nested values in block style), indented by `pad`."""
    text = yaml.safe_dump({key: value}, allow_unicode=True, sort_keys=False, width=10_000)
    return [pad + line for line in text.splitlines()]


def _section(model: BaseModel, path: list[str], indent: int) -> list[str]:
    lines: list[str] = []
    pad = "  " * indent
    data = model.model_dump(mode="json", by_alias=True)
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        key = info.alias or name
        if isinstance(value, BaseModel):
            about = info.description or (type(value).__doc__ or "").strip()
            if about:
                lines.append(f"{pad}# {about}")
            lines.append(f"{pad}{key}:")
            lines.extend(_section(value, [*path, key], indent + 1))
            continue
        env = ENV_PREFIX + "__".join(p.upper() for p in [*path, key])
        lines.append(f"{pad}# {info.description} [{env}]")
        lines.extend(_block(key, data[key], pad))
    return lines


def example_yaml() -> str:
    """The whole default configuration as commented YAML."""
    config = Config()
    body: list[str] = []
    for name in Config.model_fields:
        section = getattr(config, name)
        info = Config.model_fields[name]
        body.append("")
        if info.description:
            body.append(f"# {info.description}")
        body.append(f"{name}:")
        body.extend(_section(section, [name], 1))
    return HEADER + "\n".join(body) + "\n"
