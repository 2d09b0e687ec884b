"""A real process killed (SIGKILL) right after Twilio accepted a message: nothing is resent."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.alarms.conftest import CONTACTS, Bench

SENDER = textwrap.dedent("""
    import asyncio, os, signal, sys
    from datetime import datetime
    from monitor.config import Config
    from monitor.daemon import Monitor
    from monitor.notify.outbox import Outbox

    async def killed(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)  # between the provider's answer and the commit

    Outbox._sent = killed
    monitor = Monitor(Config.model_validate_json(sys.argv[1]))
    asyncio.run(monitor.outbox.run_once(datetime.fromisoformat(sys.argv[2])))
""")


async def test_a_killed_sender_leaves_an_unknown_row_that_is_never_resent(
    sms_bench: Bench, tmp_path: Path
) -> None:
    bench = sms_bench
    alarm_id = await bench.raise_sos()
    await bench.engine.tick(bench.at(0))
    script = tmp_path / "sender.py"
    script.write_text(SENDER)

    done = subprocess.run(
        [sys.executable, str(script), bench.monitor.config.model_dump_json(),
         bench.at(0).isoformat()], capture_output=True, text=True, timeout=60,
        cwd=Path(__file__).parents[2])

    assert done.returncode == -9, done.stderr
    assert bench.sent_to("Messages") == [CONTACTS[0][1]]
    # The daemon comes back: the lease runs out, the row is unknown, Twilio hears nothing more.
    for seconds in (30, 121, 600):
        await bench.outbox.run_once(bench.at(seconds=seconds))
    [row] = await bench.notifications(alarm_id)
    assert row.state == "unknown" and row.attempts == 1
    assert bench.sent_to("Messages") == [CONTACTS[0][1]]

