"""`tanfang visits import` and `tanfang report coverage`, run as a user runs them."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import yaml
from sqlalchemy import func, select

from monitor.config import CoverageConfig
from monitor.store.db import Database
from monitor.store.models import Visit
from monitor.visits.coverage import weekly_coverage
from monitor.visits.report import SUMMARY_SHEET
from tests.fixtures.daemon import run_cli
from tests.fixtures.factories import MakeElder
from tests.visits.common import WEEK

CSV = """elder_id,method,at,by,ref,note,safety.gas,needs
E0001,电话问候,2026-11-03 09:30,社区王,X-1,,,
E0002,home_visit,2026-11-04,社区李,,上门,unsafe,需要助浴
"""


async def test_import_twice_then_report(tmp_path: Path, make_elder: MakeElder) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    db = Database(url)
    await db.migrate()
    await make_elder(db, "E0001", categories=["高龄"])
    await make_elder(db, "E0002", categories=["独居"], name="王秀英")
    config = tmp_path / "tanfang.yaml"
    config.write_text(yaml.safe_dump({"database": {"url": url}}))
    visits = tmp_path / "visits.csv"
    visits.write_text(CSV, encoding="utf-8")

    first = run_cli("visits", "import", str(visits), "--config", str(config))
    assert first.returncode == 0, first.stderr
    assert "2 new, 0 updated" in first.stdout
    again = run_cli("visits", "import", str(visits), "--config", str(config))
    assert "0 new, 2 updated" in again.stdout, again.stderr
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Visit)) == 2
        home = (await session.execute(select(Visit).where(Visit.elder_id == "E0002"))).scalar_one()
    assert home.findings == {"safety": {"gas": "unsafe"}, "needs": "需要助浴"}
    assert home.source == "import" and home.source_ref.startswith("sha1:")

    bad = tmp_path / "bad.csv"
    bad.write_text("elder_id,method,at\nE0001,remote_monitoring,2026-11-03\n", encoding="utf-8")
    refused = run_cli("visits", "import", str(bad), "--config", str(config))
    assert refused.returncode == 1 and "line 2" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1

    out = tmp_path / "coverage.xlsx"
    made = run_cli("report", "coverage", "--week", str(WEEK), "--format", "xlsx", "-o",
                   str(out), "--config", str(config))
    assert made.returncode == 0, made.stderr
    async with db.sessions() as session:
        api = (await weekly_coverage(session, WEEK, CoverageConfig())).as_api()
    await db.close()
    sheet = openpyxl.load_workbook(io.BytesIO(out.read_bytes()))[SUMMARY_SHEET]
    total = next(r for r in sheet.iter_rows(values_only=True) if r[0] == "合计")
    assert list(total[4:7]) == [api["summary"]["required"], api["summary"]["covered"],
                                api["summary"]["uncovered"]] == [2, 1, 1]
    assert f"{WEEK}: 1 of 2 elders covered" in made.stdout

    wrong = run_cli("report", "coverage", "--week", "2026-W60", "-o", str(out),
                    "--config", str(config))
    assert wrong.returncode == 1 and "2026-W60" in wrong.stderr
