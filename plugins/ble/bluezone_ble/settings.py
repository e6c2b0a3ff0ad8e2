"""The plugin's deployment settings: ``[ble]`` and ``[sim]`` sections.

Claimed through ``bluezone_config_schema`` so ``bluezone config check``
validates them like the core's sections; defaults are filled on load and
live in the schemas only: :class:`BleSettings` and :class:`SimSettings` take
theirs from there.
"""

from __future__ import annotations

from typing import Any

from bluezone import FROM_SCHEMA, section_settings
from bluezone import build_settings as build

from .duty import DutyCycle
from .scanner import ScanSettings
from .sim.mobility import SCENARIOS
from .sim.radio import RadioModel

BLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Real Bluetooth LE scanning and advertising (see docs/ble.md).",
    "properties": {
        "manufacturer": {"type": "string", "default": "*", "description": "this phone's maker, for calibration"},
        "model": {"type": "string", "default": "*", "description": "this phone's model, for calibration"},
        "calibration_file": {"type": "string", "description": "CSV replacing the shipped calibration table"},
        "scan_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 60, "default": 4},
        "scan_period_seconds": {"type": "number", "minimum": 10, "maximum": 900, "default": 270},
        "scan_jitter_seconds": {"type": "number", "minimum": 0, "maximum": 300, "default": 30},
        "scanning_mode": {"type": "string", "enum": ["active", "passive"], "default": "active"},
        "adapter": {"type": "string", "pattern": "^hci[0-9]+$"},
        "advertise": {"type": "boolean", "default": True},
        "rotation_jitter_seconds": {"type": "number", "minimum": 0, "maximum": 300, "default": 60},
        "advertising_interval_ms": {"type": "array", "items": {"type": "integer", "minimum": 20, "maximum": 10240},
                                    "minItems": 2, "maxItems": 2, "default": [200, 270]},
    },
    "additionalProperties": False,
    "default": {},
}

SIM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The radio simulator (proximity source 'sim', 'bluezone trace --simulate'; docs/simulator.md).",
    "properties": {
        "scenario": {"type": "string", "enum": sorted(SCENARIOS), "default": "office"},
        "devices": {"type": "integer", "minimum": 2, "maximum": 500, "default": 10},
        "minutes": {"type": "integer", "minimum": 1, "maximum": 1440, "default": 120},
        "seed": {"type": "integer", "default": 0},
        "path_loss_exponent": {"type": "number", "minimum": 0.5, "maximum": 6},
        "shadowing_sigma_db": {"type": "number", "minimum": 0, "maximum": 20},
        "body_loss_db": {"type": "number", "minimum": 0, "maximum": 40},
        "packet_loss": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "additionalProperties": False,
    "default": {},
}


@section_settings(BLE_SCHEMA)
class BleSettings:
    """``[ble]``: this phone's radio and its scanning and advertising rhythm."""

    manufacturer: str = FROM_SCHEMA
    model: str = FROM_SCHEMA
    calibration_file: str | None = FROM_SCHEMA
    scan_seconds: float = FROM_SCHEMA
    scan_period_seconds: float = FROM_SCHEMA
    scan_jitter_seconds: float = FROM_SCHEMA
    scanning_mode: str = FROM_SCHEMA
    adapter: str | None = FROM_SCHEMA
    advertise: bool = FROM_SCHEMA
    rotation_jitter_seconds: float = FROM_SCHEMA
    advertising_interval_ms: tuple[int, int] = FROM_SCHEMA

    def calibration_section(self) -> dict[str, Any]:
        """What :func:`bluezone_ble.calibration.own_calibration` reads."""
        return {"manufacturer": self.manufacturer, "model": self.model, "calibration_file": self.calibration_file}


@section_settings(SIM_SCHEMA)
class SimSettings:
    """``[sim]``: the simulated scenario; unset radio figures keep the scenario's own."""

    scenario: str = FROM_SCHEMA
    devices: int = FROM_SCHEMA
    minutes: int = FROM_SCHEMA
    seed: int = FROM_SCHEMA
    path_loss_exponent: float | None = FROM_SCHEMA
    shadowing_sigma_db: float | None = FROM_SCHEMA
    body_loss_db: float | None = FROM_SCHEMA
    packet_loss: float | None = FROM_SCHEMA


def duty_cycle(ble: BleSettings) -> DutyCycle:
    return DutyCycle(float(ble.scan_seconds), float(ble.scan_period_seconds), float(ble.scan_jitter_seconds))


def scan_settings(ble: BleSettings) -> ScanSettings:
    return ScanSettings(ble.scanning_mode, ble.adapter)


def _set(sim: SimSettings, keys: tuple[str, ...]) -> dict[str, float]:
    return {k: float(v) for k in keys if (v := getattr(sim, k)) is not None}


def radio_model(sim: SimSettings) -> RadioModel:
    """Radio overrides of ``[sim]``: these replace the scenario's own
    environment figures only where the scenario does not set them."""
    return RadioModel().with_environment(**_set(sim, ("body_loss_db", "packet_loss")))


def environment_overrides(sim: SimSettings) -> dict[str, float]:
    return _set(sim, ("path_loss_exponent", "shadowing_sigma_db"))


def ble_settings(config: Any) -> BleSettings:
    """``[ble]`` of a deployment (its defaults without one)."""
    return config.typed(BleSettings) if config is not None else build(BleSettings, {})


def sim_settings(config: Any) -> SimSettings:
    """``[sim]`` of a deployment (its defaults without one)."""
    return config.typed(SimSettings) if config is not None else build(SimSettings, {})
