"""Masking of personal information (PIPL) for logs, messages and lists."""

from __future__ import annotations


def mask_name(name: str | None) -> str:
    """张桂兰 -> 张*兰, 李明 -> 李*, a one-character name stays as it is."""
    if not name:
        return ""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_phone(phone: str | None) -> str:
    """+8613800001234 -> +86138****1234: keep the prefix and the last four digits."""
    if not phone:
        return ""
    if len(phone) <= 7:
        return "*" * (len(phone) - 2) + phone[-2:]
    return phone[:-8] + "****" + phone[-4:]


def mask_id_number(number: str | None) -> str:
    """An ID card number shows only its first and last character."""
    if not number:
        return ""
    return number[0] + "*" * (len(number) - 2) + number[-1] if len(number) > 2 else "**"
