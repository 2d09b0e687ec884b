"""Coverage and visits over HTTP, in process: scope by community, the export matches the JSON."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from sqlalchemy import select

from monitor.accounts import create_account, issue_token
from monitor.api.app import create_app
from monitor.config import Config
from monitor.daemon import Monitor
from monitor.store.models import AccessLog, Account, Community
from monitor.visits.report import SUMMARY_HEADER, SUMMARY_SHEET
from tests.fixtures.factories import MakeElder

PASSWORD = "secret-pass-1"


@pytest.fixture
async def monitor(tmp_path: Path, make_elder: MakeElder) -> AsyncIterator[Monitor]:
    """A monitor that is not started (no broker): its store and HTTP app are enough here."""
    config = Config.model_validate({
        "database": {"url": f"sqlite:///{tmp_path}/state.db"},
        "telemetry": {"sqlite_path": str(tmp_path / "tele.db")},
    })
    m = Monitor(config)
    await m.db.migrate()
    async with m.db.transaction() as session:
        session.add(Community(id="dx-01", street="大兴镇", name="大兴社区"))
    await make_elder(m.db, "E0001", community="mgl-01", categories=["高龄"])
    await make_elder(m.db, "E0002", community="mgl-01", categories=["独居"], name="王秀英")
    await make_elder(m.db, "E0003", community="dx-01", categories=["高龄"], name="刘德华")
    async with m.db.transaction() as session:
        await create_account(session, "district", PASSWORD, "district_admin")
        await create_account(session, "mgl", PASSWORD, "community_admin", "mgl-01")
    yield m
    await m.db.close()


async def client(m: Monitor, username: str) -> httpx.AsyncClient:
    async with m.db.transaction() as session:
        account = (await session.execute(
            select(Account).where(Account.username == username))).scalar_one()
        token = await issue_token(session, account, timedelta(hours=1))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(m)),
                             base_url="http://tanfang.test",
                             headers={"Authorization": f"Bearer {token}"})


async def test_a_community_account_sees_only_its_community(monitor: Monitor) -> None:
    async with await client(monitor, "mgl") as mgl:
        body = (await mgl.get("/api/coverage")).json()
        assert [e["elder_id"] for e in body["elders"]] == ["E0001", "E0002"]
        assert [c["community"] for c in body["by_community"]] == ["mgl-01"]
        assert body["summary"] == {"required": 2, "covered": 0, "uncovered": 2, "elders": 2,
                                   "contacts": body["summary"]["contacts"]}
        assert body["elders"][1]["elder_name"] == "王*英"
        assert (await mgl.get("/api/coverage", params={"community": "dx-01"})).status_code == 403

        other = await mgl.post("/api/visits", json={"elder_id": "E0003", "method": "phone"})
        assert other.status_code == 404
        remote = await mgl.post("/api/visits", json={"elder_id": "E0001",
                                                     "method": "remote_monitoring"})
        assert remote.status_code == 422
        made = await mgl.post("/api/visits", json={
            "elder_id": "E0001", "method": "home_visit", "note": "上门看望",
            "findings": {"safety": {"gas": "unsafe"}, "needs": "需要助浴服务"}})
        assert made.status_code == 201, made.text
        assert made.json()["source"] == "staff" and made.json()["by"] == "mgl"
        assert made.json()["findings"] == {"safety": {"gas": "unsafe"}, "needs": "需要助浴服务"}

        listed = (await mgl.get("/api/visits", params={"elder_id": "E0001"})).json()
        assert [v["method"] for v in listed] == ["home_visit"]
        assert (await mgl.get("/api/visits", params={"elder_id": "E0003"})).json() == []
        body = (await mgl.get("/api/coverage")).json()
        assert body["elders"][0]["covered"] is True
        assert body["elders"][1]["reasons"] == [
            "本周尚无任何联系", "还需 2 次联系（本周需 2 次，已计 0 次）",
            "需至少一次人工联系（电话、视频或上门）"]

    async with monitor.db.sessions() as session:
        log = (await session.execute(select(AccessLog.actor, AccessLog.action,
                                            AccessLog.elder_id))).all()
    assert ("mgl", "visit.create", "E0001") in log
    assert ("mgl", "coverage.view", None) in log


def summary_rows(data: bytes) -> tuple[list[str], dict[tuple[str, str], list[Any]]]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book[SUMMARY_SHEET]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[2]) == SUMMARY_HEADER
    return book.sheetnames, {(str(r[0]), str(r[1] or "")): list(r) for r in rows[3:]}


async def test_the_xlsx_totals_match_the_api(monitor: Monitor) -> None:
    async with await client(monitor, "district") as district:
        for elder, method in (("E0001", "phone"), ("E0002", "video"), ("E0003", "other")):
            response = await district.post("/api/visits", json={"elder_id": elder,
                                                                "method": method})
            assert response.status_code == 201
        body = (await district.get("/api/coverage")).json()
        export = await district.get("/api/coverage/export", params={"week": body["week"]})
        assert export.status_code == 200
        text = (await district.get("/api/coverage/export",
                                   params={"week": body["week"], "format": "csv"})).content
    assert body["summary"]["required"] == 3 and body["summary"]["covered"] == 2

    names, rows = summary_rows(export.content)
    assert names == [SUMMARY_SHEET, "大兴镇", "明光路街道"]
    total = rows[("合计", "")]
    methods = list(body["summary"]["contacts"])
    assert total[2] == body["summary"]["elders"]
    assert total[4:7] == [body["summary"]["required"], body["summary"]["covered"],
                          body["summary"]["uncovered"]]
    assert total[8:] == [body["summary"]["contacts"][m] for m in methods]
    for group in body["by_community"]:
        line = rows[(group["street"], group["community_name"])]
        assert line[4:7] == [group["required"], group["covered"], group["uncovered"]]

    lines = list(csv.DictReader(io.StringIO(text.decode("utf-8-sig"))))
    assert [r["elder_id"] for r in lines] == [e["elder_id"] for e in body["elders"]]
    assert sum(int(r["covered"]) for r in lines) == body["summary"]["covered"]
