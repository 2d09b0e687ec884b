"""Result rows, progress lines, the printed table and the marked section of docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BEGIN = "<!-- benchmarks:begin (rewritten by `python -m benchmarks`) -->"
END = "<!-- benchmarks:end -->"


@dataclass
class Row:
    """One measured figure; `floor` is (the floor as text, whether it was met)."""

    benchmark: str
    case: str
    metric: str
    value: Any
    floor: tuple[str, bool] | None = None
    note: str = ""

    def cells(self) -> list[str]:
        value = f"{self.value:,}" if isinstance(self.value, int | float) and not isinstance(
            self.value, bool) else str(self.value)
        floor = "" if self.floor is None else (
            f"{self.floor[0]}: {'met' if self.floor[1] else 'NOT met'}")
        return [self.benchmark, self.case, self.metric, value, floor, self.note]


HEADER = ["benchmark", "case", "metric", "value", "floor", "note"]


class Progress:
    """Clear progress lines on stderr, with the time since the run started."""

    def __init__(self, quiet: bool = False) -> None:
        self.started = time.monotonic()
        self.quiet = quiet

    def step(self, what: str) -> None:
        if not self.quiet:
            print(f"[{time.monotonic() - self.started:7.1f}s] {what}", file=sys.stderr,
                  flush=True)

    def note(self, what: str) -> None:
        self.step("note: " + what)


def table(rows: list[Row]) -> str:
    """A plain-text table for the terminal."""
    cells = [HEADER] + [r.cells() for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(HEADER))).rstrip()
             for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(rows: list[Row]) -> str:
    out = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(c.replace("|", "/") for c in r.cells()) + " |" for r in rows]
    return "\n".join(out)


def _version(cmd: list[str], pattern: str) -> str:
    if not shutil.which(cmd[0]):
        return "not installed"
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    found = re.search(pattern, done.stdout + done.stderr)
    return found.group(1) if found else "unknown"


def cpu_ticks() -> tuple[int, int]:
    """(all, stolen) CPU ticks of the machine so far (/proc/stat; (0, 0) where unknown).

    Stolen time is what the hypervisor gave other guests while this one wanted to run: on a
    shared host it is the noise in the numbers, so each run says how much there was."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return sum(fields[:8]), fields[7] if len(fields) > 7 else 0


def stolen_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share of the machine's CPU time stolen between two `cpu_ticks()`."""
    total = after[0] - before[0]
    return (after[1] - before[1]) / total if total > 0 else 0.0


def machine() -> dict[str, str]:
    """CPU model, cores, RAM, load, and the versions of what the benchmarks run on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        ram_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text()
                      .splitlines() if line.startswith("MemTotal"))
        ram = f"{ram_kb / 1024 / 1024:.1f} GB"
    except (OSError, StopIteration):
        ram = "unknown"
    import paho.mqtt
    import pydantic
    import sqlalchemy

    pg = "unreachable"
    try:
        import psycopg

        from benchmarks.services import PG_ADMIN_URL

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            pg = str(row[0]).split()[0] if row else "unknown"
    except Exception:
        pass
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu, "cores": str(os.cpu_count()), "ram": ram,
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "mosquitto": _version(["mosquitto", "-h"], r"mosquitto version (\S+)"),
        "influxdb": _version(["influxd", "version"], r"InfluxDB v?(\S+)"),
        "postgresql": pg,
        "sqlite": __import__("sqlite3").sqlite_version,
        "paho-mqtt": paho.mqtt.__version__,
        "pydantic": pydantic.VERSION,
        "sqlalchemy": sqlalchemy.__version__,
        "commit": _version(["git", "rev-parse", "--short", "HEAD"], r"(\S+)"),
    }


def section(rows: list[Row], info: dict[str, str], command: str, notes: list[str]) -> str:
    """The marked section of docs/benchmarks.md, written from one run."""
    lines = [
        BEGIN, "",
        f"Run `{command}` on {info['date']} at commit {info['commit']}.", "",
        f"- machine: {info['cpu']}, {info['cores']} cores, {info['ram']} RAM, {info['os']}; "
        f"load average at the end of the run {info['load']}",
        f"- versions: Python {info['python']}, mosquitto {info['mosquitto']}, PostgreSQL "
        f"{info['postgresql']}, InfluxDB {info['influxdb']}, SQLite {info['sqlite']}, "
        f"paho-mqtt {info['paho-mqtt']}, pydantic {info['pydantic']}, "
        f"SQLAlchemy {info['sqlalchemy']}",
    ]
    lines += [f"- {n}" for n in notes]
    lines += ["", markdown(rows), "", END]
    return "\n".join(lines)


def update_doc(path: Path, text: str) -> None:
    """Replace the marked section (or append it) in the document."""
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        new = head + text + tail
    else:
        new = old.rstrip("\n") + "\n\n## Latest run\n\n" + text + "\n"
    path.write_text(new)
