"""`tanfang replay FILE`: a recorded history through ingest and the rules, in event time."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from monitor.cli import ConfigOpt, setup


def replay(
    file: Annotated[Path, typer.Argument(help="JSON lines of {\"topic\", \"payload\"}, "
                                         "as `tanfang simulate --record` writes them.")],
    registry: Annotated[Path | None, typer.Option(
        help="Registry YAML of the recorded devices; default: the demo district that "
             "`tanfang simulate` uses without --registry.")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="One JSON object per alarm on stdout, and nothing else there.")] = False,
    step_min: Annotated[float, typer.Option(
        "--step", help="Minutes of event time between two runs of the sweeps.")] = 15.0,
    config_file: ConfigOpt = None,
) -> None:
    """Replay recorded messages through a throwaway store; print the alarms and a summary."""
    from datetime import timedelta

    from tqdm import tqdm

    from monitor.errors import TanfangError
    from monitor.registry import parse_registry, read_registry
    from monitor.replay import default_registry, read_recording
    from monitor.replay import replay as run_replay
    from monitor.rules.source import RulesSource

    config = setup(config_file)
    if step_min <= 0:
        raise TanfangError("--step must be more than zero minutes")
    # Replaying is quiet work: per-batch INFO lines would bury the result.
    logging.getLogger().setLevel(max(logging.WARNING, logging.getLogger().level))
    rules = RulesSource(config.rules.file)
    recording = read_recording(file)
    if registry is not None:
        chosen = read_registry(registry)
    else:
        ids = {r.topic.split("/")[-2] for r in recording if r.topic.count("/") >= 2}
        chosen = parse_registry(default_registry(ids), "demo district")
    bar = tqdm(total=len(recording), unit="msg", file=sys.stderr, disable=len(recording) < 20_000,
               desc="replay")
    try:
        result = asyncio.run(run_replay(recording, chosen, config, rules,
                                        timedelta(minutes=step_min), bar.update))
    finally:
        bar.close()
    if as_json:
        for alarm in result.alarms:
            typer.echo(json.dumps(alarm, ensure_ascii=False))
        for line in result.summary():
            typer.echo(line, err=True)
        return
    for alarm in result.alarms:
        typer.echo(f"{alarm['opened_at']}  {alarm['kind']:16} {alarm['severity']:8} "
                   f"{alarm['elder_id'] or '-':8} {alarm['device_id'] or '-'}")
    typer.echo(f"{len(result.alarms)} alarms")
    for line in result.summary():
        typer.echo(line)
