"""`tanfang replay`: a recorded history with injected incidents, through ingest and the rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from devices.simulator import Timeline, demo_registry, parse_scenario
from tests.fixtures.daemon import run_cli

START = datetime(2026, 11, 2, 16, 0, tzinfo=UTC)  # local midnight
SCENARIOS = ["fall:0@2h", "tap_left_running:1@9h", "device_offline:2@3h+8h"]


def _record(tmp_path: Path) -> tuple[Path, Path, Timeline]:
    registry = demo_registry(5, seed=4)
    timeline = Timeline(registry, START, timedelta(hours=30),
                        [parse_scenario(s) for s in SCENARIOS], seed=4, faults=False)
    lines = [json.dumps({"topic": t, "payload": json.loads(p)}, ensure_ascii=False)
             for _, t, p in timeline.messages_ms()]
    lines.reverse()  # in any order: the replay sorts by event time
    recording = tmp_path / "history.jsonl"
    recording.write_text("\n".join(lines) + "\n", encoding="utf-8")
    registry_file = tmp_path / "district.yaml"
    registry_file.write_text(yaml.safe_dump(registry, allow_unicode=True), encoding="utf-8")
    return recording, registry_file, timeline


def test_replay_finds_the_injected_incidents(tmp_path: Path) -> None:
    recording, registry, timeline = _record(tmp_path)
    result = run_cli("replay", str(recording), "--registry", str(registry), "--json",
                     "--step", "30", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    alarms = [json.loads(line) for line in result.stdout.splitlines()]
    assert alarms and all({"elder_id", "device_id", "kind", "severity", "opened_at"} <= set(a)
                          for a in alarms)
    truth = {i.kind: i for i in timeline.incidents() if i.source == "scenario"}
    found = {(a["kind"], a["elder_id"]): datetime.fromisoformat(a["opened_at"]) for a in alarms}
    fall = truth["fall"]
    assert found[("fall", fall.elder_id)] == fall.at  # event time, not the replay's wall clock
    # Nobody gets up after that fall: the inactivity rules notice before the day is out.
    after = [k for k, e in found if e == fall.elder_id and k.startswith("no_")]
    assert after, found
    tap = truth["tap_left_running"]
    assert ("water_high", tap.elder_id) in found or ("water_running", tap.elder_id) in found
    dead = truth["device_offline"]
    offline = [a for a in alarms if a["kind"] == "device_offline"]
    assert [(a["elder_id"], a["device_id"]) for a in offline] == [(dead.elder_id, dead.device_id)]
    assert dead.at < datetime.fromisoformat(offline[0]["opened_at"]) < dead.at + timedelta(hours=4)
    assert "per elder-month" in result.stderr  # the summary goes to stderr with --json


def test_replay_summary_and_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"topic": "tanfang/v1/x/event", "payload": {}}\nnot json\n', encoding="utf-8")
    result = run_cli("replay", str(bad), cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"tanfang: {bad} line 2: not JSON (Expecting value)"]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    result = run_cli("replay", str(empty), cwd=tmp_path)
    assert result.returncode == 0 and "0 alarms" in result.stdout
