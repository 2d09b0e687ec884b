"""`tanfang demo` as a visitor runs it: the printed login works and an SOS alarm soon shows."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest

from tests.fixtures.daemon import TANFANG
from tests.fixtures.services import free_port


def lines_of(stream: IO[str]) -> queue.Queue[str]:
    """The process's stdout, line by line, read by a thread so the test never blocks on it."""
    out: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            out.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return out


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], queue.Queue[str], Path]]:
    port, mqtt_port = free_port(), free_port()
    log = (tmp_path / "demo.log").open("w")
    process = subprocess.Popen(
        [*TANFANG, "demo", "--port", str(port), "--mqtt-port", str(mqtt_port),
         "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.PIPE, stderr=log, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    yield process, lines_of(process.stdout), tmp_path / "demo.log"
    if process.poll() is None:
        process.kill()
        process.wait(10)
    log.close()


@pytest.mark.slow
def test_demo_prints_a_login_and_raises_an_sos_within_90_s(
    demo: tuple[subprocess.Popen[str], queue.Queue[str], Path],
) -> None:
    process, out, log = demo
    started = time.monotonic()
    printed: dict[str, str] = {}
    while len(printed) < 2:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            line = out.get(timeout=max(0.1, 60 - (time.monotonic() - started)))
        except queue.Empty:
            pytest.fail(f"no console/login lines; stderr: {log.read_text()[-3000:]}")
        key, _, value = line.partition(": ")
        if key in ("console", "login"):
            printed[key] = value
    url = printed["console"].rstrip("/")
    assert url.startswith("http://127.0.0.1:")
    username, password = printed["login"].split(" ")
    alarms: list[dict[str, object]] = []
    token = None
    while time.monotonic() - started < 90:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if token is None:
                response = httpx.post(url + "/api/auth/token",
                                      data={"username": username, "password": password})
                assert response.status_code == 200, response.text
                token = response.json()["access_token"]
            response = httpx.get(url + "/api/alarms", headers={"Authorization": f"Bearer {token}"})
            alarms = response.json()
            if any(a["kind"] == "sos" for a in alarms):
                break
        except httpx.TransportError:
            pass  # the API is still starting
        time.sleep(0.5)
    sos = [a for a in alarms if a["kind"] == "sos"]
    assert sos, f"no SOS alarm in 90 s: {alarms}\n{log.read_text()[-3000:]}"
    assert sos[0]["elder_id"] and sos[0]["severity"] == "critical"
    # The escalation reaches the duty staff and the family at once; the board says so.
    notified: list[dict[str, object]] = []
    while time.monotonic() - started < 100 and not notified:
        board = httpx.get(url + "/api/board", headers={"Authorization": f"Bearer {token}"})
        row = next((a for a in board.json()["alarms"] if a["id"] == sos[0]["id"]), None)
        notified = list(row["notifications"]) if row else []
        time.sleep(0.5)
    assert {n["recipient_kind"] for n in notified} >= {"duty", "contact"}, notified
    assert all(n["channel"] == "log" for n in notified)
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0  # a clean stop
