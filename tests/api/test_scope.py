"""The HTTP API shows each caller only what their role and community allow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from monitor.accounts import create_account
from monitor.alarms.service import AlarmDecision, raise_alarm
from monitor.api.app import create_app
from monitor.config import Config
from monitor.daemon import Monitor
from tests.fixtures.factories import MakeElder

PASSWORD = "scope-pass-123"


@pytest.fixture
async def client(tmp_path: Path, make_elder: MakeElder) -> AsyncIterator[httpx.AsyncClient]:
    """The API in-process over a migrated SQLite store: two communities, one alarm in each."""
    config = Config.model_validate({"database": {"url": f"sqlite:///{tmp_path}/state.db"}})
    monitor = Monitor(config)
    await monitor.db.migrate()
    await make_elder(monitor.db, "E0001", community="mgl-01")
    await make_elder(monitor.db, "E0002", community="mgl-02", name="王秀英")
    async with monitor.db.transaction() as session:
        for elder, community in (("E0001", "mgl-01"), ("E0002", "mgl-02")):
            await raise_alarm(session, AlarmDecision(elder, community, f"btn-{elder}", "sos",
                                                     "critical", datetime.now(UTC)))
        await create_account(session, "east", PASSWORD, "duty", "mgl-01")
        await create_account(session, "district", PASSWORD, "district_admin")
    transport = httpx.ASGITransport(app=create_app(monitor))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http
    await monitor.db.close()


async def login(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    response = await client.post("/api/auth/token",
                                 data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "bearer"
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_no_token_no_alarms(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/alarms")).status_code == 401
    bad = await client.get("/api/alarms", headers={"Authorization": "Bearer forged"})
    assert bad.status_code == 401


async def test_wrong_password_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/token", data={"username": "east", "password": "x"})
    assert response.status_code == 401


async def test_community_account_sees_only_its_community(client: httpx.AsyncClient) -> None:
    east = await login(client, "east")
    district = await login(client, "district")

    mine = (await client.get("/api/alarms", headers=east)).json()
    everyone = (await client.get("/api/alarms", headers=district)).json()

    assert [a["elder_id"] for a in mine] == ["E0001"]
    assert sorted(a["elder_id"] for a in everyone) == ["E0001", "E0002"]
    other = next(a for a in everyone if a["elder_id"] == "E0002")
    assert (await client.get(f"/api/alarms/{other['id']}", headers=east)).status_code == 404
    ack = await client.post(f"/api/alarms/{other['id']}/ack", headers=east, json={})
    assert ack.status_code == 404
    assert (await client.get(f"/api/alarms/{other['id']}", headers=district)).status_code == 200
