"""Message texts: masked names, no phone digits, one SMS segment, local time."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from monitor.notify.templates import ELDER_TEXTS, EVENTS, render_message, sms_segments

KINDS = [*EVENTS, "something_new"]
RECIPIENTS = ["elder", "contact", "duty"]
OPENED = datetime(2025, 12, 13, 6, 5, tzinfo=UTC)  # 14:05 in Asia/Shanghai
ELDER = "欧阳桂兰"
ELDER_PHONE = "+8613812345678"
LONG_COMMUNITY = "明光路东庄新村社区"  # eight characters and more: the worst case we allow


def render(kind: str, recipient: str, **kw: object) -> str:
    args: dict[str, object] = {
        "elder_name": ELDER,
        "community": "东庄社区",
        "opened_at": OPENED,
        "alarm_id": 123456,
    }
    args.update(kw)
    return render_message(kind, recipient, **args)  # type: ignore[arg-type]


def test_every_kind_named_in_the_issue_has_words() -> None:
    wanted = {
        "sos", "fall", "smoke", "gas", "tamper", "inactivity_water", "inactivity_power",
        "inactivity_any", "continuous_water", "vital_heart_rate", "vital_spo2",
        "device_offline", "battery_low", "no_test_press", "routine_departure",
    }
    assert wanted <= set(EVENTS)
    assert wanted <= set(ELDER_TEXTS)


@pytest.mark.parametrize("recipient", RECIPIENTS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("relation", [None, "邻居"])
def test_fits_one_sms_segment(kind: str, recipient: str, relation: str | None) -> None:
    text = render(kind, recipient, community=LONG_COMMUNITY[:8], relation=relation)
    assert len(text) <= 70, text
    assert sms_segments(text) == 1


@pytest.mark.parametrize("recipient", RECIPIENTS)
@pytest.mark.parametrize("kind", KINDS)
def test_no_full_name_and_no_phone_digits(kind: str, recipient: str) -> None:
    text = render(kind, recipient)
    assert ELDER not in text
    digits = re.sub(r"\D", "", ELDER_PHONE)
    assert digits[-8:] not in re.sub(r"\D", "", text)
    assert not re.search(r"\d{7,}", text)


def test_family_message_names_the_elder_masked_with_community_time_and_event() -> None:
    text = render("fall", "contact", elder_name="张桂兰", relation="儿子")
    assert text.startswith("【探访关爱】您的家人张*兰（东庄社区）12月13日14:05")
    assert "跌倒" in text
    assert "回复1表示您已处理" in text


def test_a_neighbour_is_not_told_it_is_family() -> None:
    text = render("sos", "contact", relation="邻居")
    assert "家人" not in text
    assert "您关注的老人欧**兰" in text


def test_elder_gets_a_plain_check_in() -> None:
    text = render("inactivity_water", "elder")
    assert "请回复1报平安" in text
    assert "用水" in text
    assert "*" not in text  # the elder is spoken to, not named


def test_duty_message_has_alarm_id_community_and_masked_name() -> None:
    text = render("smoke", "duty")
    assert "告警123456" in text
    assert "东庄社区" in text and "欧**兰" in text
    assert "烟雾" in text


def test_unknown_kind_gets_a_sensible_default() -> None:
    assert "异常情况" in render("something_new", "contact")
    assert "异常情况" in render("something_new", "elder")


def test_voice_text_leaves_out_the_sms_reply_instruction() -> None:
    text = render("sos", "contact", channel="voice")
    assert "回复" not in text and "【" not in text
    assert "一键呼叫" in text


def test_time_is_local_to_shanghai_across_midnight() -> None:
    late = datetime(2025, 12, 31, 16, 30, tzinfo=UTC)  # 1月1日00:30 local
    assert "1月1日00:30" in render("sos", "duty", opened_at=late)


def test_segments_of_a_long_text() -> None:
    assert sms_segments("字" * 70) == 1
    assert sms_segments("字" * 71) == 2
    assert sms_segments("字" * 135) == 3


@pytest.mark.parametrize(("kind", "same_as"), [
    ("no_water", "inactivity_water"), ("no_activity", "inactivity_any"),
    ("spo2_low", "vital_spo2"), ("button_untested", "no_test_press"),
])
def test_rules_engine_kinds_are_worded_like_their_twins(kind: str, same_as: str) -> None:
    at = datetime(2026, 12, 3, 6, 5, tzinfo=UTC)
    for recipient in ("elder", "contact", "duty"):
        words = {k: render_message(k, recipient, elder_name="张桂兰", community="东庄社区",
                                   opened_at=at, alarm_id=7) for k in (kind, same_as)}
        assert words[kind] == words[same_as]
        assert "出现异常情况" not in words[kind]
