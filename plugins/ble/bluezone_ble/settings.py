"""The plugin's deployment settings: ``[ble]`` and ``[sim]`` sections.

Claimed through ``bluezone_config_schema`` so ``bluezone config check``
validates them like the core's sections; defaults are filled on load.
"""

from __future__ import annotations

from typing import Any

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


def duty_cycle(ble: dict[str, Any]) -> DutyCycle:
    return DutyCycle(float(ble.get("scan_seconds", 4)), float(ble.get("scan_period_seconds", 270)),
                     float(ble.get("scan_jitter_seconds", 30)))


def scan_settings(ble: dict[str, Any]) -> ScanSettings:
    return ScanSettings(ble.get("scanning_mode", "active"), ble.get("adapter"))


def radio_model(sim: dict[str, Any]) -> RadioModel:
    """Radio overrides of ``[sim]``: these replace the scenario's own
    environment figures only where the scenario does not set them."""
    keys = ("body_loss_db", "packet_loss")
    return RadioModel(**{k: float(sim[k]) for k in keys if k in sim})


def environment_overrides(sim: dict[str, Any]) -> dict[str, float]:
    return {k: float(sim[k]) for k in ("path_loss_exponent", "shadowing_sigma_db") if k in sim}
