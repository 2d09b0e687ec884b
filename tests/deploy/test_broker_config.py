"""The generated Mosquitto files work in a real mosquitto: devices write only their own topics."""

from __future__ import annotations

import getpass
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml
from typer.testing import CliRunner

from devices.simulator import demo_registry
from monitor.broker_config import (
    BrokerUsers,
    acl_text,
    conf_text,
    device_password,
    hash_password,
    registry_device_ids,
    write_broker_files,
)
from monitor.cli import app
from monitor.errors import TanfangError
from tests.fixtures.services import free_port, missing, wait_port

SECRET = "district-secret-for-tests"
USERS = BrokerUsers("tanfang-monitor", "monitor-pw", simulator_password="sim-pw")


def test_device_passwords_are_derived_and_distinct() -> None:
    assert device_password(SECRET, "wm-0001") == device_password(SECRET, "wm-0001")
    assert device_password(SECRET, "wm-0001") != device_password(SECRET, "wm-0002")
    assert device_password("other", "wm-0001") != device_password(SECRET, "wm-0001")
    assert len(device_password(SECRET, "wm-0001")) == 24


def test_hash_matches_mosquitto_passwd(tmp_path: Path) -> None:
    if not shutil.which("mosquitto_passwd"):
        missing("mosquitto_passwd")
    path = tmp_path / "pw"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(path), "u", "s3cret"], check=True,
                   capture_output=True)
    theirs = path.read_text().strip().split(":", 1)[1]
    _, seven, iterations, salt, _ = theirs.split("$")
    import base64

    ours = hash_password("s3cret", base64.b64decode(salt), int(iterations))
    assert seven == "7" and ours == theirs


def test_acl_has_the_device_pattern_and_the_monitor() -> None:
    text = acl_text(USERS)
    assert "pattern write tanfang/v1/%u/#" in text
    assert "user tanfang-monitor\ntopic read tanfang/v1/#" in text
    assert "user simulator" not in acl_text(BrokerUsers("m", "p"))


def test_bad_device_id_is_refused() -> None:
    with pytest.raises(TanfangError, match="bad device id 'wm/1'"):
        registry_device_ids({"elders": [{"id": "E1", "devices": [{"id": "wm/1"}]}]})


@pytest.fixture
def secured_broker(tmp_path: Path) -> Iterator[int]:
    """A mosquitto running the generated passwd, acl and conf."""
    if not shutil.which("mosquitto"):
        missing("mosquitto")
    registry = demo_registry(12, seed=5)
    out = tmp_path / "broker"
    write_broker_files(registry, out, SECRET, USERS, conf_dir=str(out))
    port = free_port()
    conf = conf_text(str(out), port, data_dir=str(tmp_path)).replace(
        f"listener {port}\n", f"listener {port} 127.0.0.1\n")
    # As root mosquitto would switch to the user `mosquitto`, who cannot read pytest's
    # private tmp dir; in the compose deployment the files belong to mosquitto's uid.
    conf += f"user {getpass.getuser()}\n"
    (out / "mosquitto.conf").write_text(conf)
    log = (tmp_path / "mosquitto.log").open("wb")
    proc = subprocess.Popen(["mosquitto", "-c", str(out / "mosquitto.conf")], stdout=log,
                            stderr=log)
    wait_port(port)
    yield port
    proc.terminate()
    proc.wait(10)
    log.close()


def _client(port: int, user: str, password: str) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{user}")
    client.username_pw_set(user, password)
    answered = threading.Event()
    client.on_connect = lambda *_: answered.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    answered.wait(5)
    time.sleep(0.05)
    return client


def test_device_cannot_write_another_devices_topic(secured_broker: int) -> None:
    port = secured_broker
    got: list[str] = []
    arrived = threading.Event()
    monitor = _client(port, "tanfang-monitor", "monitor-pw")
    assert monitor.is_connected()

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        got.append(msg.topic)
        if msg.payload == b'{"ts":2,"total_m3":1.0}':
            arrived.set()

    monitor.on_message = on_message
    monitor.subscribe("tanfang/v1/#", qos=1)[0]
    time.sleep(0.3)
    device = _client(port, "wm-0001", device_password(SECRET, "wm-0001"))
    assert device.is_connected()
    # QoS 0 and 1 from wm-0001 on btn-0002's topic, then one on its own topic.
    device.publish("tanfang/v1/btn-0002/event", b'{"ts":1,"type":"sos","msg_id":"x"}', qos=0)
    device.publish("tanfang/v1/btn-0002/event", b'{"ts":1,"type":"sos","msg_id":"y"}',
                   qos=1).wait_for_publish(5)
    device.publish("tanfang/v1/wm-0001/telemetry", b'{"ts":2,"total_m3":1.0}',
                   qos=1).wait_for_publish(5)
    assert arrived.wait(5)
    time.sleep(0.3)
    assert got == ["tanfang/v1/wm-0001/telemetry"]
    # A wrong password and an unknown device are turned away.
    for user, password in (("wm-0001", "guess"), ("wm-9999", device_password(SECRET, "wm-9999"))):
        stranger = _client(port, user, password)
        assert not stranger.is_connected()
        stranger.loop_stop()
    # The simulator user may write for every device.
    sim = _client(port, "simulator", "sim-pw")
    sim.publish("tanfang/v1/btn-0002/status", b'{"online":true,"ts":3}', qos=1).wait_for_publish(5)
    deadline = time.monotonic() + 5
    while "tanfang/v1/btn-0002/status" not in got and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "tanfang/v1/btn-0002/status" in got
    for c in (monitor, device, sim):
        c.disconnect()
        c.loop_stop()


def test_cli_writes_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = tmp_path / "registry.yaml"
    registry.write_text(yaml.safe_dump(demo_registry(5), allow_unicode=True))
    monkeypatch.setenv("TANFANG_DEVICE_SECRET", SECRET)
    monkeypatch.setenv("TANFANG_MQTT__PASSWORD", "monitor-pw")
    monkeypatch.delenv("TANFANG_SIM_PASSWORD", raising=False)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["broker", "config", str(registry), "--out-dir", str(out),
                                      "--device-passwords", str(tmp_path / "pw.csv")])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"passwd", "acl", "mosquitto.conf"}
    users = [line.split(":")[0] for line in (out / "passwd").read_text().splitlines()]
    assert users[0] == "tanfang-monitor" and "simulator" not in users
    assert (out / "passwd").stat().st_mode & 0o077 == 0
    assert "wm-0001," + device_password(SECRET, "wm-0001") in (tmp_path / "pw.csv").read_text()
    monkeypatch.delenv("TANFANG_DEVICE_SECRET")
    result = CliRunner().invoke(app, ["broker", "config", str(registry), "--out-dir", str(out)])
    assert result.exit_code != 0 and "TANFANG_DEVICE_SECRET" in str(result.exception)
    result = CliRunner().invoke(app, ["broker", "config", str(tmp_path / "none.yaml"),
                                      "--out-dir", str(out)])
    assert isinstance(result.exception, TanfangError)
