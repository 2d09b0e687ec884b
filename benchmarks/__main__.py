"""`python -m benchmarks`: run the benchmarks, print one table, rewrite docs/benchmarks.md.

    python -m benchmarks                       # everything, full sizes (about 15 minutes)
    python -m benchmarks --quick               # everything, small sizes (2-3 minutes)
    python -m benchmarks --only ingest,sweeps  # some of them
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.report import (
    Progress,
    Row,
    cpu_ticks,
    machine,
    section,
    stolen_share,
    table,
    update_doc,
)

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"


@dataclass(frozen=True)
class Sizes:
    messages: int  # pre-published messages per drain
    devices: int  # registered load devices for ingest
    sweep_sizes: tuple[int, ...]
    usage_max: int  # largest fleet that gets hourly usage (the remote check needs it)
    sos_probes: int
    memory_devices: tuple[int, ...]
    memory_messages: int
    scaleout_messages: int
    telemetry_readings: int


FULL = Sizes(40_000, 10_000, (10_000, 100_000, 1_000_000), 100_000, 200,
             (10_000, 100_000), 40_000, 40_000, 200_000)
QUICK = Sizes(5_000, 1_000, (1_000, 5_000), 5_000, 20, (1_000,), 3_000, 5_000, 5_000)


@dataclass
class Context:
    sizes: Sizes
    workdir: Path
    cache: Path
    progress: Progress
    rates: dict[str, float]
    backends: list[str]


def _ingest(ctx: Context) -> list[Row]:
    from benchmarks import ingest

    telemetry = [b for b in ctx.backends if b in ("sqlite", "influxdb")]
    rows, rates = ingest.run(ctx.sizes.messages, ctx.sizes.devices, ctx.workdir, telemetry,
                             ctx.progress)
    ctx.rates.update(rates)
    return rows


def _latency(ctx: Context) -> list[Row]:
    from benchmarks import latency

    stores = [b for b in ctx.backends if b in ("sqlite", "postgresql")]
    return latency.run(ctx.sizes, ctx.workdir, ctx.rates.get("sqlite"), ctx.progress, stores)


def _sweeps(ctx: Context) -> list[Row]:
    from benchmarks import sweeps

    stores = [b for b in ctx.backends if b in ("sqlite", "postgresql")]
    return sweeps.run(list(ctx.sizes.sweep_sizes), stores, ctx.cache,
                      ctx.sizes.usage_max, ctx.progress)


def _memory(ctx: Context) -> list[Row]:
    from benchmarks import memory

    return memory.run(ctx.sizes, ctx.workdir, ctx.progress)


def _scaleout(ctx: Context) -> list[Row]:
    from benchmarks import scaleout

    return scaleout.run(ctx.sizes, ctx.workdir, ctx.progress)


def _telemetry(ctx: Context) -> list[Row]:
    from benchmarks import telemetry_write

    return telemetry_write.rows(ctx.sizes.telemetry_readings, ctx.workdir)


BENCHMARKS: dict[str, Callable[[Context], list[Row]]] = {
    "ingest": _ingest,
    "latency": _latency,
    "sweeps": _sweeps,
    "memory": _memory,
    "scaleout": _scaleout,
    "telemetry": _telemetry,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--only", default="", help="comma-separated: " + ", ".join(BENCHMARKS))
    parser.add_argument("--messages", type=int, help="messages per ingest drain")
    parser.add_argument("--sweep-sizes", help="comma-separated fleet sizes for the sweeps")
    parser.add_argument("--backends", default="sqlite,influxdb,postgresql",
                        help="telemetry backends for ingest (sqlite, influxdb) and state "
                             "stores for the sweeps (sqlite, postgresql)")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument("--doc", type=Path, default=DOC, help="the document to rewrite")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir())
                        / "tanfang-bench-cache", help="where generated fleets are kept")
    parser.add_argument("--note", action="append", default=[],
                        help="a line for the document (e.g. 'the machine was shared')")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.messages:
        sizes = Sizes(**{**sizes.__dict__, "messages": args.messages})
    if args.sweep_sizes:
        sizes = Sizes(**{**sizes.__dict__, "sweep_sizes": tuple(
            int(s) for s in args.sweep_sizes.split(","))})
    chosen = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHMARKS)
    unknown = [n for n in chosen if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    args.cache.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="tanfang-bench-"))
    ctx = Context(sizes, workdir, args.cache, Progress(args.quiet), {},
                  [b.strip() for b in args.backends.split(",") if b.strip()])
    rows: list[Row] = []
    stolen: list[str] = []
    try:
        for name in chosen:
            ctx.progress.step(f"== {name}")
            before = cpu_ticks()
            rows += BENCHMARKS[name](ctx)
            stolen.append(f"{name} {stolen_share(before, cpu_ticks()):.0%}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(table(rows))
    print("CPU stolen by the hypervisor: " + ", ".join(stolen))
    if not args.no_doc:
        command = "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:])
        notes = [*args.note, "CPU time stolen by the hypervisor for other guests while each "
                 "ran (the noise in these numbers): " + ", ".join(stolen)]
        update_doc(args.doc, section(rows, machine(), command.strip(), notes))
        ctx.progress.step(f"wrote {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
