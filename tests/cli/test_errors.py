"""Every CLI error path: one clear line on stderr, a non-zero exit, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from monitor.config import load_config
from monitor.config_example import example_yaml
from tests.fixtures.daemon import run_cli
from tests.fixtures.services import free_port

ROOT = Path(__file__).resolve().parents[2]


def one_line_error(result: object, *fragments: str) -> None:
    stderr = result.stderr.strip()  # type: ignore[attr-defined]
    assert result.returncode != 0, stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr
    assert len(stderr.splitlines()) == 1, stderr
    for fragment in fragments:
        assert fragment in stderr


def test_missing_config_file(tmp_path: Path) -> None:
    one_line_error(run_cli("run", "--config", str(tmp_path / "nope.yaml")),
                   "configuration file not found", "nope.yaml")


def test_bad_yaml(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("mqtt:\n  host: [unclosed\n")
    one_line_error(run_cli("run", "--config", str(path)), "not valid YAML", "line")


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("mqtt:\n  hots: broker\n")
    one_line_error(run_cli("run", "--config", str(path)), "unknown key 'mqtt.hots'")


def test_bad_value_from_the_environment_is_named(tmp_path: Path) -> None:
    one_line_error(run_cli("config", "check", env={"TANFANG_MQTT__PORT": "many"}, cwd=tmp_path),
                   "mqtt.port")


def test_unreachable_broker(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump({
        "mqtt": {"port": free_port()},
        "database": {"url": f"sqlite:///{tmp_path}/state.db"},
        "telemetry": {"sqlite_path": str(tmp_path / "tele.db")},
        "api": {"port": free_port()},
        "logging": {"level": "WARNING"},
    }))
    one_line_error(run_cli("run", "--config", str(path)), "cannot reach the MQTT broker")


def test_bad_registry_file(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("elders:\n  - {id: E1, name: 张三, community: x, categories: [富裕]}\n")
    config = tmp_path / "t.yaml"
    config.write_text(f"database: {{url: 'sqlite:///{tmp_path}/s.db'}}\n")
    one_line_error(run_cli("registry", "load", str(path), "--config", str(config)),
                   "elders[0] (E1).categories[0]")


@pytest.mark.parametrize("args", [["registry", "load"], ["user", "create", "x"],
                                  ["run", "--no-such-flag"]])
def test_bad_arguments(args: list[str]) -> None:
    one_line_error(run_cli(*args))


def test_help_answers() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("run", "demo", "registry", "user", "report", "config"):
        assert command in result.stdout


def test_example_configuration_matches_the_code_and_loads() -> None:
    example = ROOT / "config" / "tanfang.example.yaml"
    assert example.read_text(encoding="utf-8") == example_yaml(), (
        "config/tanfang.example.yaml is stale: run `tanfang config example > "
        "config/tanfang.example.yaml`")
    assert load_config(example, environ={}) == load_config(None, environ={})
