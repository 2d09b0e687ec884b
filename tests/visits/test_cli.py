"""`tanfang visits import` and `tanfang report coverage`, through the CLI's entry point."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml
from sqlalchemy import select

from monitor.cli import main
from monitor.config import CoverageConfig
from monitor.store.db import Database
from monitor.store.models import Visit
from monitor.visits.coverage import weekly_coverage
from monitor.visits.report import SUMMARY_SHEET
from tests.fixtures.factories import MakeElder
from tests.visits.common import WEEK

CSV = """elder_id,method,at,by,ref,note,safety.gas,needs
E0001,电话问候,2026-11-03 09:30,社区王,X-1,,,
E0002,home_visit,2026-11-04,社区李,,上门,unsafe,需要助浴
"""


def tanfang(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the command line in process: (exit code, stdout, stderr)."""
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def store(url: str, make_elder: MakeElder, then: Any = None) -> Any:
    async def go() -> Any:
        db = Database(url)
        try:
            await db.migrate()
            if then is None:
                await make_elder(db, "E0001", categories=["高龄"])
                await make_elder(db, "E0002", categories=["独居"], name="王秀英")
                return None
            async with db.sessions() as session:
                return await then(session)
        finally:
            await db.close()

    return asyncio.run(go())


def test_import_twice_then_report(
    tmp_path: Path, make_elder: MakeElder, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    store(url, make_elder)
    config = tmp_path / "tanfang.yaml"
    config.write_text(yaml.safe_dump({"database": {"url": url}, "logging": {"level": "WARNING"}}))
    visits = tmp_path / "visits.csv"
    visits.write_text(CSV, encoding="utf-8")
    opt = ("--config", str(config))

    code, out, err = tanfang(capsys, "visits", "import", str(visits), *opt)
    assert code == 0 and "2 new, 0 updated" in out, err
    code, out, err = tanfang(capsys, "visits", "import", str(visits), *opt)
    assert code == 0 and "0 new, 2 updated" in out, err

    async def saved(session: Any) -> list[Visit]:
        return list((await session.execute(select(Visit).order_by(Visit.elder_id))).scalars())

    rows = store(url, make_elder, saved)
    assert [(v.elder_id, v.method, v.source_ref) for v in rows][0] == ("E0001", "phone", "X-1")
    assert len(rows) == 2 and rows[1].findings == {"safety": {"gas": "unsafe"},
                                                   "needs": "需要助浴"}

    bad = tmp_path / "bad.csv"
    bad.write_text("elder_id,method,at\nE0001,remote_monitoring,2026-11-03\n", encoding="utf-8")
    code, _, err = tanfang(capsys, "visits", "import", str(bad), *opt)
    assert code == 1 and "line 2" in err and len(err.strip().splitlines()) == 1

    out_file = tmp_path / "coverage.xlsx"
    code, out, err = tanfang(capsys, "report", "coverage", "--week", str(WEEK), "--format",
                             "xlsx", "-o", str(out_file), *opt)
    assert code == 0, err

    async def api(session: Any) -> dict[str, Any]:
        return (await weekly_coverage(session, WEEK, CoverageConfig())).as_api()

    summary = store(url, make_elder, api)["summary"]
    sheet = openpyxl.load_workbook(io.BytesIO(out_file.read_bytes()))[SUMMARY_SHEET]
    total = next(r for r in sheet.iter_rows(values_only=True) if r[0] == "合计")
    assert list(total[4:7]) == [summary["required"], summary["covered"],
                                summary["uncovered"]] == [2, 1, 1]
    assert f"{WEEK}: 1 of 2 elders covered" in out

    code, _, err = tanfang(capsys, "report", "coverage", "--week", "2026-W60", "-o",
                           str(out_file), *opt)
    assert code == 1 and "2026-W60" in err
