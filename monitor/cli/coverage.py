"""`tanfang report coverage` and `tanfang visits import`: the weekly report and visit imports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from monitor.cli import ConfigOpt, run_async, setup
from monitor.errors import TanfangError

visits_app = typer.Typer(help="Visits to elders (探访记录).", no_args_is_help=True)


def report_coverage(
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")],
    week: Annotated[str | None, typer.Option(help="ISO week, such as 2026-W49; default: "
                                             "this week.")] = None,
    format: Annotated[str, typer.Option("--format", help="xlsx or csv.")] = "xlsx",
    community: Annotated[str | None, typer.Option(help="Only this community.")] = None,
    config_file: ConfigOpt = None,
) -> None:
    """Weekly visit coverage by street and community, with this week's to-do list."""
    from monitor.rules.settings import read_rules
    from monitor.store.db import Database
    from monitor.visits.coverage import weekly_coverage
    from monitor.visits.report import render
    from monitor.visits.weeks import IsoWeek

    if format not in ("xlsx", "csv"):
        raise TanfangError(f"unknown format {format!r}; xlsx or csv")
    fmt: Literal["xlsx", "csv"] = "xlsx" if format == "xlsx" else "csv"
    config = setup(config_file)
    chosen = IsoWeek.parse(week) if week else IsoWeek.current()
    calendar = read_rules(config.rules.file).calendar

    async def go() -> tuple[bytes, int, int]:
        db = Database(config.database.url)
        try:
            await db.migrate()
            async with db.transaction() as session:
                report = await weekly_coverage(session, chosen, config.coverage,
                                               calendar, community)
            total = report.total()
            return render(report, fmt), total.required, total.covered
        finally:
            await db.close()

    data, required, covered = run_async(go())
    try:
        output.write_bytes(data)
    except OSError as exc:
        raise TanfangError(f"cannot write {output}: {exc.strerror}") from None
    typer.echo(f"{chosen}: {covered} of {required} elders covered; wrote {output}")


@visits_app.command("import")
def visits_import(
    file: Annotated[Path, typer.Argument(help="CSV of visits (see docs/coverage.md).")],
    config_file: ConfigOpt = None,
) -> None:
    """Import visits kept in another system; importing the same file again changes nothing."""
    from monitor.store.db import Database
    from monitor.visits.importer import import_visits, read_rows

    config = setup(config_file)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise TanfangError(f"file not found: {file}") from None
    except OSError as exc:
        raise TanfangError(f"cannot read {file}: {exc.strerror}") from None
    try:
        rows = read_rows(data, str(file))
    except UnicodeDecodeError:
        raise TanfangError(f"{file}: not UTF-8 text") from None

    async def go() -> str:
        db = Database(config.database.url)
        try:
            await db.migrate()
            async with db.transaction() as session:
                return str(await import_visits(session, rows))
        finally:
            await db.close()

    typer.echo(run_async(go()))
