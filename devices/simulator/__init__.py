"""The device simulator: households with routines, injected scenarios, a demo district.

See devices/simulator/README.md. The core (`generate`, `incidents`, `Timeline`) is pure and
deterministic; `Simulation` plays it onto a broker from asyncio; `run_load` is the load mode.
"""

from devices.simulator.district import demo_registry
from devices.simulator.generator import Timeline, generate, incidents
from devices.simulator.load import LoadReport, load_registry, run_load
from devices.simulator.publisher import Simulation, SimulationReport
from devices.simulator.scenarios import Incident, ScenarioSpec, parse_scenario

__all__ = [
    "Incident",
    "LoadReport",
    "ScenarioSpec",
    "Simulation",
    "SimulationReport",
    "Timeline",
    "demo_registry",
    "generate",
    "incidents",
    "load_registry",
    "parse_scenario",
    "run_load",
]
