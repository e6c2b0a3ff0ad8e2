"""Hook implementations of the QR check-in plugin."""

from __future__ import annotations

from typing import Any

from bluezone.hookspecs import hookimpl

FEED = "venue-traces"


@hookimpl
def bluezone_config_schema() -> dict[str, dict[str, Any]]:
    from .settings import SCHEMA

    return {"qr_checkin": SCHEMA}


class VenueTracesFeed:
    """The ``venue-traces`` feed: venue traces → venue exposures (tier F1,
    source "venue"). Follows :class:`bluezone.feed.Feed`."""

    name = FEED

    def match(self, batch: Any, store: Any, config: Any) -> Any:
        from .matching import TraceBatchError, match_batch

        keys = config.export_public_keys() if config is not None else None
        if not keys:
            raise TraceBatchError("no [authority] export_keys configured: cannot verify venue traces")
        return match_batch(batch, store, keys)


VENUE_TRACES_FEED = VenueTracesFeed()


@hookimpl
def bluezone_feeds() -> list[Any]:
    return [VENUE_TRACES_FEED]


@hookimpl
def bluezone_server_routes(app: Any, config: Any) -> None:
    from .server_routes import add_routes

    add_routes(app, config)


@hookimpl
def bluezone_register_commands(cli: Any) -> None:
    from .cli import register

    register(cli)
