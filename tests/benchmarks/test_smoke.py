"""`python -m benchmarks` at a tiny size: it runs, prints its table and rewrites the doc."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.report import BEGIN, END

ROOT = Path(__file__).resolve().parents[2]


def test_the_entry_point_prints_its_table_and_rewrites_the_doc(tmp_path: Path) -> None:
    if not shutil.which("mosquitto"):
        pytest.skip("mosquitto missing")
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Benchmarks\n\nhand-written text\n\n{BEGIN}\nold numbers\n{END}\n\ntail\n")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "ingest,sweeps",
         "--messages", "300", "--sweep-sizes", "100,200", "--backends", "sqlite",
         "--doc", str(doc), "--cache", str(tmp_path / "cache"), "--quiet"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0].split()[:4] == ["benchmark", "case", "metric", "value"]
    cases = [line for line in lines[2:] if line.strip()]
    assert any("bare paho-mqtt drain" in line for line in cases)
    assert any("whole pipeline, telemetry to sqlite" in line for line in cases)
    assert any("offline, 200 elders, sqlite" in line for line in cases)
    assert any("remote_check, 200 elders, sqlite" in line for line in cases)
    text = doc.read_text()
    assert "old numbers" not in text and text.count(BEGIN) == 1 and text.count(END) == 1
    assert "hand-written text" in text and text.rstrip().endswith("tail")
    assert "| ingest | bare paho-mqtt drain" in text and "machine:" in text
