"""Jinja2 environment of the console: templates shipped in the package, Chinese time filters."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi.templating import Jinja2Templates

from monitor.console import labels
from monitor.privacy import mask_name, mask_phone
from monitor.timeutil import to_local, utcnow

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


def local_time(moment: datetime | None, fmt: str = "%m-%d %H:%M") -> str:
    """An instant as Asia/Shanghai wall-clock text."""
    return to_local(moment).strftime(fmt) if moment else "—"


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """How long ago, in Chinese: 刚刚, 5分钟前, 3小时前, 2天前."""
    if moment is None:
        return "从未"
    seconds = max(0, int(((now or utcnow()) - moment).total_seconds()))
    if seconds < 60:
        return "刚刚"
    if seconds < 3600:
        return f"{seconds // 60}分钟前"
    if seconds < 86400:
        return f"{seconds // 3600}小时前"
    return f"{seconds // 86400}天前"


templates.env.filters.update(local=local_time, ago=ago, mask_name=mask_name,
                             mask_phone=mask_phone)
templates.env.globals.update(L=labels)
