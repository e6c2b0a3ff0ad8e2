"""Hook implementations of the QR check-in plugin."""

from __future__ import annotations

from typing import Any

from bluezone.hookspecs import hookimpl

FEED = "venue-traces"


@hookimpl
def bluezone_config_schema() -> dict[str, dict[str, Any]]:
    from .settings import SCHEMA

    return {"qr_checkin": SCHEMA}


@hookimpl
def bluezone_published_feeds(config: Any) -> list[str]:
    return [FEED]


@hookimpl
def bluezone_match_batch(batch: Any, store: Any, config: Any) -> Any:
    """Venue traces → venue exposures (tier F1, source "venue")."""
    if batch.feed != FEED:
        return None
    from .matching import match_batch

    keys = config.export_public_keys() if config is not None else None
    if not keys:
        from .matching import TraceBatchError

        raise TraceBatchError("no [authority] export_keys configured: cannot verify venue traces")
    return match_batch(batch, store, keys)


@hookimpl
def bluezone_server_routes(app: Any, config: Any) -> None:
    from .server_routes import add_routes

    add_routes(app, config)


@hookimpl
def bluezone_register_commands(cli: Any) -> None:
    from .cli import register

    register(cli)
