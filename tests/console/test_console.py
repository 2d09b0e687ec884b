"""The duty console in a real Chromium against a real daemon and Mosquitto."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.console.conftest import COMMUNITY_USER, log_in, new_page, screenshot
from tests.fixtures.daemon import PASSWORD, Daemon, sos, wait_for

pytestmark = pytest.mark.browser


def access_log(daemon: Daemon) -> list[tuple[str, str, str | None, str | None]]:
    with sqlite3.connect(daemon.directory / "state.db") as db:
        return list(db.execute(
            "SELECT actor, action, elder_id, detail FROM access_log ORDER BY id"))


@pytest.fixture(scope="module")
def board(browser: Any, console: Daemon) -> Any:
    """The district duty officer's board, logged in once for the module."""
    page = new_page(browser, console)
    log_in(page)
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    return page


def test_wrong_password_is_refused_and_logged(browser: Any, console: Daemon) -> None:
    page = new_page(browser, console)
    page.goto("/")
    expect(page).to_have_url(f"{console.url}/login?next=/")
    page.fill("input[name=username]", "district")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    expect(page.locator(".alert-error")).to_contain_text("用户名或密码错误")
    assert ("district", "login_failed", None, None) in access_log(console)
    screenshot(page, "login.png")
    page.context.close()


def test_sos_appears_live_then_is_acknowledged_and_resolved(board: Any, console: Daemon) -> None:
    board.goto("/")
    expect(board.locator("#live")).to_have_attribute("data-state", "live")
    console.broker.publish("tanfang/v1/btn-0009/event", sos("live-1"))

    card = board.locator(".alarm[data-kind=sos][data-elder=E0009]")
    expect(card).to_be_visible(timeout=2000)  # no reload: the event stream brought it
    expect(card).to_have_class("alarm sev-critical state-open flash")
    expect(card.locator(".alarm-summary")).to_have_text("老人按下了一键呼叫按钮")
    expect(board.locator(".alarm").first).to_have_attribute("data-severity", "critical")

    card.get_by_role("button", name="显示回拨电话").click()
    expect(card.locator(".phones")).to_contain_text("+8613800000009")
    expect(card.locator(".phones")).to_contain_text("+8613900000009")
    alarm_id = int(card.get_attribute("data-alarm") or 0)
    assert ("district", "reveal_phones", "E0009", f"alarm {alarm_id}") in access_log(console)

    card.get_by_role("button", name="确认接警").click()
    expect(card).to_have_attribute("data-state", "acknowledged")
    expect(card.locator(".alarm-ack")).to_contain_text("district 已于")

    card.get_by_role("button", name="处理完毕").click()
    dialog = board.locator("#resolve-dialog")
    dialog.get_by_text("家属已协助").click()
    dialog.get_by_text("电话联系").click()
    dialog.locator("textarea[name=note]").fill("已电话联系儿子，老人无碍")
    dialog.get_by_role("button", name="确认处理完毕").click()
    expect(card).to_have_count(0)

    detail = console.api("GET", f"/api/alarms/{alarm_id}").json()
    assert (detail["state"], detail["outcome"], detail["contact_method"], detail["note"]) == (
        "resolved", "assisted_by_family", "phone", "已电话联系儿子，老人无碍")
    assert detail["acknowledged_by"] == "district"


def test_board_lists_most_urgent_first(board: Any, console: Daemon) -> None:
    board.goto("/")
    cards = board.locator(".alarm")
    expect(cards).to_have_count(5)
    order = [(c.get_attribute("data-severity"), c.get_attribute("data-state"))
             for c in cards.all()]
    rank = {"critical": 0, "warning": 1, "info": 2}
    assert order == sorted(order, key=lambda o: (rank[o[0] or ""], o[1] != "open"))
    escalation = board.locator(".alarm[data-elder=E0003] .escalation")
    expect(escalation).to_contain_text("短信")
    expect(escalation).to_contain_text("已送达")
    expect(escalation.locator(".notif-failed")).to_contain_text("语音电话")
    board.wait_for_timeout(300)  # let the flash of a fresh card settle before the picture
    screenshot(board, "board-desktop.png")


def test_board_works_at_390_px(browser: Any, console: Daemon) -> None:
    page = new_page(browser, console, width=390, height=844)
    log_in(page)
    expect(page.locator(".alarm")).to_have_count(5)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    size = page.locator(".alarm-summary").first.evaluate("e => getComputedStyle(e).fontSize")
    assert float(size.removesuffix("px")) >= 20  # large type for a tired officer
    screenshot(page, "board-390.png")
    page.goto("/elders/E0001")
    expect(page.locator("body")).to_have_attribute("data-charts", "ready")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "elder-390.png", full_page=True)
    page.context.close()


def test_elder_page_shows_record_and_charts(board: Any, console: Daemon) -> None:
    board.goto("/elders/E0001")
    expect(board.locator("body")).to_have_attribute("data-charts", "ready")
    for metric in ("water_m3", "power_kwh", "steps"):
        chart = board.locator(f"#chart-{metric}")
        expect(chart.locator("canvas")).to_have_count(1)
        assert int(chart.get_attribute("data-points") or 0) >= 160  # 7 days of hours
    option = board.evaluate(
        "JSON.stringify(echarts.getInstanceByDom(document.getElementById('chart-water_m3'))"
        ".getOption().series[1].markLine.data)")
    assert json.loads(option)[0]["yAxis"] == 0.01
    expect(board.locator(".contacts li")).to_have_count(2)
    expect(board.locator(".contacts li").first).to_contain_text("李*")
    expect(board.locator("#devices tbody tr")).to_have_count(4)
    expect(board.locator("table").last).to_contain_text("检查燃气阀门")
    assert any(a == "view_elder" and e == "E0001" for _, a, e, _ in access_log(console))
    screenshot(board, "elder.png", full_page=True)


def test_community_account_sees_only_its_community(browser: Any, console: Daemon) -> None:
    page = new_page(browser, console)
    log_in(page, COMMUNITY_USER)
    expect(page.locator(".alarm")).to_have_count(3)
    assert page.locator(".alarm[data-elder=E0004]").count() == 0  # mgl-02's SOS
    assert page.goto("/elders/E0002").status == 404
    expect(page.locator("#not-found")).to_be_visible()
    assert page.goto("/elders/E0001").status == 200

    for method, path in (("GET", "/api/elders/E0002"), ("GET", "/api/elders/E0002/usage"),
                         ("POST", "/api/elders/E0002/phones")):
        assert page.request.fetch(path, method=method).status == 404, path
    assert page.request.get("/api/elders/E0001/usage").status == 200
    token = console.token(COMMUNITY_USER, PASSWORD)
    assert console.api("GET", "/api/elders/E0002", token=token).status_code == 404
    seen = {a["community_id"] for a in console.api("GET", "/api/alarms", token=token).json()}
    assert seen == {"mgl-01"}
    page.goto("/devices")
    assert page.locator("[data-community=mgl-02]").count() == 0
    page.context.close()


def test_devices_page_lists_what_needs_fixing(board: Any, console: Daemon) -> None:
    board.goto("/devices")
    expect(board.locator("tr[data-device=wm-0003]")).to_contain_text("离线")
    expect(board.locator("tr[data-device=btn-0008]")).to_contain_text("电量低")
    expect(board.locator("tr[data-device=pm-0009]")).to_contain_text("从未上线")
    expect(board.locator("tr[data-device=ww-0010]")).to_contain_text("从未测试")
    assert board.locator("tr[data-device=btn-0001]").count() == 0  # healthy devices stay off
    screenshot(board, "devices.png", full_page=True)


def coverage_stub(week: str) -> dict[str, Any]:
    """A response shaped as the coverage contract, for when that branch is not merged in."""
    elders = []
    for i in range(1, 13):
        covered = i % 4 != 0
        elders.append({
            "elder_id": f"E{i:04d}", "community": "mgl-01" if i % 2 else "mgl-02",
            "community_name": "东庄社区" if i % 2 else "西庄社区", "street": "明光路街道",
            "elder_name": f"张*{chr(0x5170 + i)}", "key_object": bool(i % 3),
            "required": 2 if i % 3 else 1,
            "contacts": {"remote_monitoring": 1, "phone": 1 if covered else 0},
            "covered": covered, "visit_contact": "王*英",
            "last_visit_at": "2026-11-28T02:00:00+00:00",
            "reasons": [] if covered else ["重点对象需至少一次人工联系"],
        })
    uncovered = sum(not e["covered"] for e in elders)
    return {"week": week, "elders": elders,
            "summary": {"required": len(elders), "covered": len(elders) - uncovered,
                        "uncovered": uncovered}}


def test_coverage_page_and_visit_form(board: Any, console: Daemon) -> None:
    posted: list[dict[str, Any]] = []
    real = httpx.get(console.url + "/api/coverage",
                     headers={"Authorization": f"Bearer {console.token()}"}).status_code != 404
    if not real:
        board.route("**/api/coverage?*", lambda route: route.fulfill(
            json=coverage_stub(route.request.url.split("week=")[1])))

        def visit(route: Any) -> None:
            posted.append(json.loads(route.request.post_data or "{}"))
            route.fulfill(status=201, json={"id": 1, **posted[-1]})

        board.route("**/api/visits", visit)
    board.goto("/coverage")
    expect(board.locator("body")).to_have_attribute("data-coverage", "ready")
    expect(board.locator("#by-community")).to_contain_text("明光路街道")
    expect(board.locator("#export")).to_have_attribute("href", __import__("re").compile(
        r"/api/coverage/export\?week=\d{4}-W\d{2}&format=xlsx"))
    screenshot(board, "coverage.png", full_page=True)

    first = board.locator(".uncovered").first
    elder_id = first.get_attribute("data-elder")
    first.get_by_role("button", name="记录探访").click()
    dialog = board.locator("#visit-dialog")
    dialog.get_by_text("电话问候").click()
    dialog.locator("textarea[name=note]").fill("电话问候，老人身体尚好")
    dialog.get_by_role("button", name="保存探访记录").click()
    expect(board.locator("#toast")).to_contain_text("探访记录已保存")
    if not real:
        assert posted[0]["elder_id"] == elder_id and posted[0]["method"] == "phone"
        assert posted[0]["at"].endswith("+08:00")
    else:
        wait_for(lambda: console.api("GET", f"/api/visits?elder_id={elder_id}").json())
    board.unroute("**/api/coverage?*")
    board.unroute("**/api/visits")
