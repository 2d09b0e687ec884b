"""The TwiML of a notification call."""

from __future__ import annotations

from xml.etree import ElementTree

from monitor.notify.twilio_voice import build_twiml, key_press_twiml

BODY = "探访关爱提醒：您的家人张*兰（东庄社区）12月3日14:05疑似跌倒，请尽快联系老人确认。"
ACTION = "https://tanfang.example.org/api/twilio/voice/5"


def test_twiml_reads_the_chinese_text_twice_inside_a_one_digit_gather() -> None:
    root = ElementTree.fromstring(build_twiml(BODY, ACTION))
    gather = root.find("Gather")
    assert gather is not None
    assert gather.get("action") == ACTION
    assert gather.get("numDigits") == "1"
    say = gather.find("Say")
    assert say is not None
    assert say.get("language") == "cmn-CN"
    assert say.get("loop") == "2"
    assert BODY in (say.text or "")
    assert "确认收到请按1" in (say.text or "")


def test_without_action_the_message_is_read_without_a_gather() -> None:
    root = ElementTree.fromstring(build_twiml(BODY, None))
    assert root.find("Gather") is None
    say = root.find("Say")
    assert say is not None and say.text == BODY and say.get("language") == "cmn-CN"


def test_key_press_answer() -> None:
    assert "已确认收到" in key_press_twiml(True)
    assert "<Hangup" in key_press_twiml(False)
