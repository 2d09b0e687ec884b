"""1,000 malformed messages leave the daemon healthy and counted; a valid SOS gets through."""

from __future__ import annotations

import json
import subprocess

import httpx

from tests.fixtures.daemon import Daemon, sos, wait_for


def malformed(i: int) -> tuple[str, bytes]:
    kind = i % 5
    if kind == 0:
        return "tanfang/v1/btn-0001/event", b"{not json" + str(i).encode()
    if kind == 1:
        return "tanfang/v1/wm-0001/telemetry", json.dumps({"ts": 1, "total_m3": "lots"}).encode()
    if kind == 2:
        return f"tanfang/v1/ghost-{i}/event", sos(f"g{i}").encode()
    if kind == 3:
        return "tanfang/v1/wm-0002/telemetry", b'{"ts": 1, "total_m3": 1, "pad": "' + (
            b"x" * 17000) + b'"}'
    return "tanfang/v1/pm-0001/telemetry", json.dumps({"ts": "yesterday", "total_kwh": 1}).encode()


def test_malformed_flood_is_counted_and_an_sos_among_it_gets_through(daemon: Daemon) -> None:
    daemon.start()
    lines = []
    for i in range(1000):
        topic, payload = malformed(i)
        if i == 500:
            lines.append(("tanfang/v1/btn-0007/event", sos("good-sos").encode()))
        lines.append((topic, payload))
    # one mosquitto_pub per topic, fed line by line (-l), all QoS 1
    by_topic: dict[str, list[bytes]] = {}
    for topic, payload in lines:
        by_topic.setdefault(topic, []).append(payload)
    for topic, payloads in by_topic.items():
        subprocess.run(["mosquitto_pub", "-p", str(daemon.broker.port), "-q", "1", "-t", topic,
                        "-l"], input=b"\n".join(payloads) + b"\n", check=True, timeout=30)

    wait_for(lambda: daemon.metric("tanfang_ingest_messages_total", result="rejected") >= 1000,
             timeout=30)
    assert httpx.get(daemon.url + "/api/health").status_code == 200
    reasons = {r: daemon.metric("tanfang_ingest_rejected_total", reason=r)
               for r in ("bad_json", "invalid", "unknown_device", "oversized")}
    assert reasons == {"bad_json": 200, "invalid": 400, "unknown_device": 200, "oversized": 200}
    alarms = daemon.alarms()
    # the good SOS, and the unreadable messages on btn-0001's event topic treated as an SOS
    assert {(a["elder_id"], a["kind"]) for a in alarms} == {("E0007", "sos"), ("E0001", "sos")}
    unreadable = next(a for a in alarms if a["elder_id"] == "E0001")
    assert unreadable["details"]["reason"] == "unreadable SOS-capable event"
