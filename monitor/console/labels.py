"""Chinese labels for what the console shows: alarm kinds, outcomes, methods, device types."""

from __future__ import annotations

from typing import Any

SEVERITY = {"critical": "紧急", "warning": "警告", "info": "提示"}
STATE = {"open": "待接警", "acknowledged": "处理中", "resolved": "已处理"}
KIND = {
    "sos": "一键呼叫",
    "fall": "跌倒",
    "smoke": "烟雾报警",
    "gas": "燃气泄漏",
    "tamper": "设备被拆动",
    "vital_signs": "生命体征异常",
    "inactivity": "长时间无活动",
    "continuous_water": "持续用水",
    "night_power": "夜间用电异常",
    "device_offline": "设备离线",
    "battery_low": "电量低",
    "untested_button": "呼叫按钮未测试",
    "routine_departure": "作息异常",
}
# What happened, when a rule gave no details.summary of its own.
DEFAULT_SUMMARY = {
    "sos": "老人按下了一键呼叫按钮",
    "fall": "智能手环检测到跌倒",
    "smoke": "烟雾报警器报警",
    "gas": "燃气报警器报警",
    "tamper": "设备被打开或拆除",
}
# The operator contract's resolve values (monitor.store.models.OUTCOMES, CONTACT_METHODS).
OUTCOME = {
    "elder_fine": "老人平安",
    "assisted_by_family": "家属已协助",
    "assisted_by_staff": "工作人员已协助",
    "emergency_services": "已呼叫120/110",
    "false_alarm": "误报",
    "device_fault": "设备故障",
}
CONTACT_METHOD = {
    "phone": "电话联系",
    "video": "视频通话",
    "home_visit": "上门查看",
    "none": "未联系本人",
}
VISIT_METHOD = {
    "home_visit": "上门探访",
    "phone": "电话问候",
    "video": "互联网音视频",
    "remote_monitoring": "远程监测",
    "other": "其他",
}
DEVICE_TYPE = {
    "call_button": "一键呼叫按钮",
    "wearable": "智能手环",
    "water_meter": "智能水表",
    "power_meter": "智能电表",
    "motion_sensor": "人体感应器",
    "smoke_detector": "烟雾报警器",
    "gas_detector": "燃气报警器",
}
CHANNEL = {"sms": "短信", "voice": "语音电话", "webhook": "平台推送", "log": "日志"}
RECIPIENT = {"elder": "老人", "contact": "联系人", "duty": "值班员"}
NOTIFICATION_STATE = {
    "pending": "待发送",
    "sending": "发送中",
    "sent": "已发送",
    "delivered": "已送达",
    "failed": "失败",
    "cancelled": "已取消",
    "retry": "待重试",
    "unknown": "结果未知",
    "suppressed": "超出限额未发",
}
ROLE = {"duty": "值班员", "community_admin": "社区管理员", "district_admin": "区级管理员"}


def summary(kind: str, details: dict[str, Any]) -> str:
    """The Chinese one-line 'what happened' of an alarm."""
    text = details.get("summary")
    if isinstance(text, str) and text:
        return text
    if details.get("reason"):
        return "收到无法识别的呼叫信号，请按一键呼叫处理"
    return DEFAULT_SUMMARY.get(kind, KIND.get(kind, kind))


def all_labels() -> dict[str, dict[str, str]]:
    """Every label table, for the browser scripts."""
    return {"severity": SEVERITY, "state": STATE, "kind": KIND, "outcome": OUTCOME,
            "contact_method": CONTACT_METHOD, "visit_method": VISIT_METHOD,
            "device_type": DEVICE_TYPE, "channel": CHANNEL, "recipient": RECIPIENT,
            "notification_state": NOTIFICATION_STATE}
