"""The walking skeleton: an SOS published to a real Mosquitto becomes an alarm on the API."""

from __future__ import annotations

import signal

from tests.fixtures.daemon import Daemon, sos, wait_for


def test_sos_becomes_an_open_alarm(daemon: Daemon) -> None:
    daemon.start()
    daemon.broker.publish("tanfang/v1/btn-0001/event", sos("b1-000001"))

    alarms = wait_for(daemon.alarms)

    assert len(alarms) == 1
    alarm = alarms[0]
    assert (alarm["elder_id"], alarm["device_id"], alarm["kind"], alarm["state"]) == (
        "E0001", "btn-0001", "sos", "open")
    assert alarm["severity"] == "critical"
    assert "*" in alarm["elder_name"]  # masked in lists


def test_duplicate_msg_id_raises_no_second_alarm(daemon: Daemon) -> None:
    daemon.start()
    for _ in range(3):
        daemon.broker.publish("tanfang/v1/btn-0002/event", sos("dup-1"))
    daemon.broker.publish("tanfang/v1/btn-0002/event", sos("other-2"))

    wait_for(lambda: daemon.metric("tanfang_ingest_messages_total", result="duplicate") >= 2)
    wait_for(lambda: daemon.metric("tanfang_ingest_messages_total", result="accepted") >= 2)
    alarms = daemon.alarms()
    assert len(alarms) == 1
    detail = daemon.api("GET", f"/api/alarms/{alarms[0]['id']}").json()
    assert detail["details"]["occurrences"] == 2  # the second, distinct press is attached
    # The escalation adds its own lines to the trail meanwhile; ingest wrote these two.
    kinds = [e["kind"] for e in detail["events"]]
    assert [k for k in kinds if k in ("opened", "occurred_again")] == ["opened", "occurred_again"]


def test_sos_published_while_daemon_is_down_arrives_after_restart(daemon: Daemon) -> None:
    daemon.start()  # subscribes once: the broker keeps the session from then on
    daemon.stop(signal.SIGKILL)

    for i in range(1, 21):
        daemon.broker.publish(f"tanfang/v1/btn-{i:04d}/event", sos(f"down-{i}"))
    daemon.start()

    alarms = wait_for(lambda: len(daemon.alarms()) == 20 and daemon.alarms())
    assert sorted(a["elder_id"] for a in alarms) == [f"E{i:04d}" for i in range(1, 21)]


def test_the_daemon_connects_again_when_the_broker_restarts(daemon: Daemon) -> None:
    daemon.start()
    daemon.broker.publish("tanfang/v1/btn-0001/event", sos("before-1"))
    wait_for(lambda: len(daemon.alarms()) == 1)
    daemon.broker.stop()
    wait_for(lambda: "disconnected from the broker" in daemon.log())
    daemon.broker.start()  # the same port and persistence: the sessions are still there

    daemon.broker.publish("tanfang/v1/btn-0002/event", sos("after-1"))
    alarms = wait_for(lambda: len(daemon.alarms()) == 2 and daemon.alarms())
    assert sorted(a["elder_id"] for a in alarms) == ["E0001", "E0002"]
    assert daemon.wait_healthy()["broker"] is True


def test_acknowledge_and_resolve(daemon: Daemon) -> None:
    daemon.start()
    daemon.broker.publish("tanfang/v1/btn-0003/event", sos("ack-1", kind="fall"))
    alarm = wait_for(daemon.alarms)[0]

    acked = daemon.api("POST", f"/api/alarms/{alarm['id']}/ack", json={"note": "正在回电"})
    assert acked.status_code == 200
    assert (acked.json()["state"], acked.json()["acknowledged_by"]) == ("acknowledged", "district")

    resolved = daemon.api("POST", f"/api/alarms/{alarm['id']}/resolve",
                          json={"outcome": "elder_fine", "contact_method": "phone"})
    assert resolved.status_code == 200
    assert resolved.json()["state"] == "resolved"
    assert daemon.alarms("open") == []
    bad = daemon.api("POST", f"/api/alarms/{alarm['id']}/resolve", json={"outcome": "maybe"})
    assert bad.status_code == 422

    # a new press after resolution opens a new alarm
    daemon.broker.publish("tanfang/v1/btn-0003/event", sos("ack-2", kind="fall"))
    assert wait_for(daemon.alarms)[0]["id"] != alarm["id"]
