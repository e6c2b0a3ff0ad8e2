"""Bluezone BLE proximity source: bleak scanner, BlueZ advertiser,
calibration, and a radio simulator (proximity sources ``ble`` and ``sim``).

Registered through the ``bluezone`` entry-point group (``ble``). The
library API for simulations is :func:`bluezone_ble.sim.engine.simulate`
(re-exported here as :func:`simulate`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bluezone import MessageCatalogue, hookimpl

from .settings import BleSettings, SimSettings


def simulate(*args: Any, **kwargs: Any) -> Any:
    """See :func:`bluezone_ble.sim.engine.simulate`."""
    from .sim.engine import simulate as _simulate

    return _simulate(*args, **kwargs)


async def simulate_async(*args: Any, **kwargs: Any) -> Any:
    """See :func:`bluezone_ble.sim.engine.simulate_async`."""
    from .sim.engine import simulate_async as _simulate_async

    return await _simulate_async(*args, **kwargs)


#: This plugin's texts (gettext domain ``bluezone_ble``), added to the one catalogue.
CATALOGUE = MessageCatalogue("bluezone_ble", Path(__file__).parent / "locale")


@hookimpl
def bluezone_message_catalogues() -> list[MessageCatalogue]:
    return [CATALOGUE]


@hookimpl
def bluezone_config_schema():
    return {"ble": BleSettings, "sim": SimSettings}


@hookimpl
def bluezone_proximity_sources():
    from .sources import SOURCES

    return SOURCES


@hookimpl
def bluezone_register_commands(cli):
    from .cli import trace

    cli.add_command(trace)
