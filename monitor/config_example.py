"""The documented example configuration, written from the models so it cannot drift from them."""

from __future__ import annotations

import json
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


def _scalar(value: Any) -> str:
    """A value as one line of YAML (flow style for lists and mappings)."""
    if value is None:
        return "null"
    text = yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, width=10_000)
    return text.removesuffix("\n...\n").strip()


def _section(model: BaseModel, path: list[str], indent: int) -> list[str]:
    lines: list[str] = []
    pad = "  " * indent
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        key = info.alias or name
        env = ENV_PREFIX + "__".join(p.upper() for p in [*path, key])
        if isinstance(value, BaseModel):
            lines.append(f"{pad}# {info.description}")
            lines.append(f"{pad}{key}:")
            lines.extend(_section(value, [*path, key], indent + 1))
            continue
        lines.append(f"{pad}# {info.description} [{env}]")
        if isinstance(value, dict) and value and all(
                not isinstance(v, dict | list) for v in value.values()):
            lines.append(f"{pad}{key}:")
            lines.extend(f"{pad}  {_scalar(k)}: {_scalar(v)}" for k, v in value.items())
        elif isinstance(value, list) and value and any(isinstance(v, dict) for v in value):
            lines.append(f"{pad}{key}:")
            lines.extend(f"{pad}  - {json.dumps(v, ensure_ascii=False)}" for v in value)
        else:
            lines.append(f"{pad}{key}: {_scalar(value)}")
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
