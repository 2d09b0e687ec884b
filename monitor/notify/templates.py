"""The words elders, families and duty staff read or hear, by alarm kind and recipient.

Privacy: a message names the elder only masked (张*兰), never an ID number, an address
or a phone number. An SMS in Chinese is one segment up to 70 characters; every template
here stays within that for community names of up to eight characters.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from monitor.privacy import mask_name
from monitor.timeutil import to_local

logger = logging.getLogger(__name__)

PREFIX = "【探访关爱】"
VOICE_PREFIX = "探访关爱提醒："
SMS_SEGMENT_CHARS = 70  # UCS-2: one segment; a longer message is split into 67-char parts

# What happened, as a phrase that follows "<name> <time>"; read by family and staff.
EVENTS: dict[str, str] = {
    "sos": "按下一键呼叫",
    "fall": "疑似跌倒",
    "smoke": "家中烟雾报警",
    "gas": "家中燃气报警",
    "tamper": "家中设备被拆",
    "inactivity_water": "长时间未用水",
    "inactivity_power": "长时间未用电",
    "inactivity_any": "长时间无活动",
    "continuous_water": "持续用水不停",
    "water_high": "用水量异常偏多",
    "vital_heart_rate": "心率异常",
    "vital_spo2": "血氧偏低",
    "device_offline": "家中设备离线",
    "battery_low": "设备电量低",
    "no_test_press": "呼叫器久未测试",
    "routine_departure": "作息与平时不同",
}
DEFAULT_EVENT = "出现异常情况"

# What the elder reads: plain words, what to do; followed by the check-in request.
ELDER_TEXTS: dict[str, str] = {
    "sos": "收到您的一键呼叫，我们正在联系您的家人和社区。",
    "fall": "手环提示您可能跌倒了，我们正在联系家人和社区。",
    "smoke": "您家烟雾报警器在响，请马上离开，必要时拨打119。",
    "gas": "您家燃气报警，请关上阀门、打开窗户，不要开关电器。",
    "tamper": "您家的报警设备被拆动了，社区会联系您。",
    "inactivity_water": "您家很久没有用水了，您身体还好吗？",
    "inactivity_power": "您家很久没有用电了，您身体还好吗？",
    "inactivity_any": "家里很久没有动静了，您身体还好吗？",
    "continuous_water": "您家一直在用水，请看看水龙头有没有关好。",
    "water_high": "您家用水比平时多很多，请看看有没有漏水。",
    "vital_heart_rate": "手环测到您心跳不正常，请坐下休息，难受就打120。",
    "vital_spo2": "手环测到您血氧偏低，请坐下休息，难受就打120。",
    "device_offline": "您家的报警设备没有信号了，社区会联系您。",
    "battery_low": "您家的报警设备快没电了，社区会帮您换电池。",
    "no_test_press": "请按一下呼叫按钮试一试，看它是否能用。",
    "routine_departure": "今天家里的情况和平时不一样，您身体还好吗？",
}
DEFAULT_ELDER_TEXT = "系统发现您家有异常情况，您身体还好吗？"
ELDER_CHECK_IN = "请回复1报平安。"

# Kinds about the equipment rather than the elder's safety: no rush for the family.
MAINTENANCE_KINDS = frozenset({"tamper", "device_offline", "battery_low", "no_test_press"})

# The rules engine's names for kinds worded above under another name.
KIND_ALIASES = {
    "no_water": "inactivity_water",
    "no_power": "inactivity_power",
    "no_motion": "inactivity_any",
    "no_steps": "inactivity_any",
    "no_activity": "inactivity_any",
    "water_running": "continuous_water",
    "heart_rate": "vital_heart_rate",
    "spo2_low": "vital_spo2",
    "button_untested": "no_test_press",
}

# Relations that make "您的家人" true; for a neighbour or a volunteer it would not be.
FAMILY_RELATIONS = frozenset({
    "儿子", "女儿", "儿媳", "女婿", "孙子", "孙女", "外孙", "外孙女", "配偶", "老伴", "丈夫",
    "妻子", "哥哥", "弟弟", "姐姐", "妹妹", "兄弟", "姐妹", "侄子", "侄女", "外甥", "外甥女",
    "亲属", "家属", "子女",
})


def format_time(moment: datetime) -> str:
    """12月3日14:05 in Asia/Shanghai; a naive time is taken as UTC, as the store keeps it."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = to_local(moment)
    return f"{local.month}月{local.day}日{local:%H:%M}"


def _who(relation: str | None) -> str:
    if relation is None or relation.strip() in FAMILY_RELATIONS:
        return "您的家人"
    return "您关注的老人"


def render_message(
    kind: str,
    recipient_kind: str,
    *,
    elder_name: str,
    community: str,
    opened_at: datetime,
    alarm_id: int,
    relation: str | None = None,
    channel: str = "sms",
) -> str:
    """The text of one notification; `relation` is the contact's relation to the elder.

    For `channel="voice"` the bracketed prefix and the reply instruction are left out:
    the call adds its own "确认收到请按1".
    """
    voice = channel == "voice"
    kind = KIND_ALIASES.get(kind, kind)
    prefix = VOICE_PREFIX if voice else PREFIX
    name = mask_name(elder_name)
    event = EVENTS.get(kind, DEFAULT_EVENT)
    when = format_time(opened_at)
    if recipient_kind == "elder":
        text = ELDER_TEXTS.get(kind, DEFAULT_ELDER_TEXT)
        tail = "" if voice else ELDER_CHECK_IN
        return f"{prefix}{text}{tail}"
    if recipient_kind == "contact":
        ask = "请方便时联系老人。" if kind in MAINTENANCE_KINDS else "请尽快联系老人确认。"
        tail = "" if voice else "回复1表示您已处理。"
        return f"{prefix}{_who(relation)}{name}（{community}）{when}{event}，{ask}{tail}"
    if recipient_kind != "duty":
        logger.warning("unknown recipient kind %r: using the duty staff wording", recipient_kind)
    tail = "" if voice else "回复1确认接单。"
    return f"{prefix}告警{alarm_id}：{community}{name}{when}{event}，请及时处置。{tail}"


def sms_segments(text: str) -> int:
    """How many SMS segments a text takes in UCS-2 (70 alone, 67 each when split)."""
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= SMS_SEGMENT_CHARS else -(-units // 67)
