"""docker-compose.yml and the Dockerfile hold together (Docker itself cannot run here)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.config import load_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_compose_file_matches_the_compose_spec_schema(compose: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    pytest.importorskip("check_jsonschema")  # ships the compose-spec schema (dev extra)
    schema_file = resources.files("check_jsonschema") / "builtin_schemas/vendor/compose-spec.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    jsonschema.validate(compose, schema)


def test_the_deployment_has_its_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"mosquitto", "influxdb", "postgres", "tanfang", "simulator",
            "broker-config"} <= set(services)
    assert services["tanfang"]["command"] == ["run", "--config", "/etc/tanfang/tanfang.yaml"]
    assert services["simulator"]["profiles"] == ["sim"]
    assert all("profiles" not in s for name, s in services.items() if name != "simulator")
    assert services["broker-config"]["command"][:2] == ["broker", "config"]
    assert services["mosquitto"]["depends_on"]["broker-config"]["condition"] == \
        "service_completed_successfully"
    mounted = {v.split(":")[1] for v in services["mosquitto"]["volumes"]}
    assert "/mosquitto/config" in mounted
    for name, service in services.items():
        for dep in service.get("depends_on", {}):
            assert dep in services, (name, dep)
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source.startswith(("$", ".", "/")) or source in compose["volumes"], volume
        for config in service.get("configs", []):
            assert config["source"] in compose["configs"]


def test_embedded_daemon_config_is_valid(compose: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "tanfang.yaml"
    path.write_text(compose["configs"]["tanfang-config"]["content"], encoding="utf-8")
    config = load_config(path, environ={})
    assert config.mqtt.host == "mosquitto" and config.telemetry.backend == "influxdb"
    assert config.database.url.startswith("postgresql://")
    assert "$" not in path.read_text()  # secrets come from the environment only


def test_dockerfile_installs_the_project_and_runs_tanfang() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert text.startswith("#") and "FROM python:3.11" in text
    assert "pip install ." in text
    assert 'ENTRYPOINT ["tanfang"]' in text
