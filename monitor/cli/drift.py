"""`tanfang report drift`: elders whose last week left their own routine (a weekly report)."""

from __future__ import annotations

from typing import Annotated

import typer

from monitor.cli import ConfigOpt, run_async, setup


def report_drift(
    week: Annotated[str | None, typer.Option(help="ISO week, such as 2026-W49; default: "
                                             "the last finished week.")] = None,
    config_file: ConfigOpt = None,
) -> None:
    """Devices whose use over a week moved away from the elder's baseline (docs/rules.md)."""
    from monitor.rules.routine import drift_report
    from monitor.rules.settings import read_rules
    from monitor.store.db import Database
    from monitor.visits.weeks import IsoWeek

    config = setup(config_file)
    rules = read_rules(config.rules.file)
    chosen = IsoWeek.parse(week) if week else IsoWeek.current().previous()
    last_day = chosen.days()[-1]

    async def go() -> list[str]:
        db = Database(config.database.url)
        try:
            await db.migrate()
            async with db.sessions() as session:
                rows = await drift_report(session, last_day, rules,
                                          config.coverage.remote_check)
        finally:
            await db.close()
        return [f"{r.elder_id}\t{r.device_id}\t{r.metric}\tusual {r.baseline:.3f}/day\t"
                f"week {r.last_week:.3f}/day\t{(r.ratio - 1) * 100:+.0f}%" for r in rows]

    lines = run_async(go())
    for line in lines:
        typer.echo(line)
    typer.echo(f"{chosen}: {len(lines)} devices drifted from their routine")
