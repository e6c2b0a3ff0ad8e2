"""Hook implementations of the QR check-in plugin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bluezone import MessageCatalogue, hookimpl

FEED = "venue-traces"
#: The staff role that issues the one-time tokens venue owners upload traces
#: with (token purpose ``venue-trace``). The server module is imported only
#: when a hook asks, so loading the plugin on a phone stays cheap.
ROLE = "venue-tracer"
PURPOSE = "venue-trace"


#: This plugin's texts (gettext domain ``bluezone_qr_checkin``), added to the one catalogue.
CATALOGUE = MessageCatalogue("bluezone_qr_checkin", Path(__file__).parent / "locale")


@hookimpl
def bluezone_message_catalogues() -> list[MessageCatalogue]:
    return [CATALOGUE]


@hookimpl
def bluezone_config_schema() -> dict[str, Any]:
    from .settings import CheckinSection

    return {"qr_checkin": CheckinSection}


class VenueTracesFeed:
    """The ``venue-traces`` feed: venue traces → venue exposures (tier F1,
    source "venue"). Follows :class:`bluezone.feed.Feed`."""

    name = FEED

    def match(self, batch: Any, store: Any, config: Any) -> Any:
        from bluezone.i18n import _

        from .matching import TraceBatchError, match_batch

        keys = config.export_public_keys() if config is not None else None
        if not keys:
            raise TraceBatchError(_("No [authority] export_keys configured: cannot verify venue traces"))
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
def bluezone_server_migrations() -> list[Any]:
    from .schema import SERVER_MIGRATIONS

    return [SERVER_MIGRATIONS]


@hookimpl
def bluezone_server_retention(conn: Any, cutoff: int, now: int) -> dict[str, int]:
    from .server_routes import purge_paper_log

    return {"venue_paper_log": purge_paper_log(conn, cutoff)}


@hookimpl
def bluezone_staff_roles() -> list[Any]:
    from bluezone.i18n import N_
    from bluezone_authority.server.staff import StaffRole

    return [StaffRole(ROLE, N_("venue tracer"), token_purposes=(PURPOSE,))]


@hookimpl
def bluezone_portal_pages() -> list[Any]:
    from .portal import PAGES

    return [PAGES]


@hookimpl
def bluezone_portal_menu_links() -> list[Any]:
    from .portal import MENU

    return [MENU]


@hookimpl
def bluezone_dashboard_counters() -> list[Any]:
    from .portal import COUNTER

    return [COUNTER]


@hookimpl
def bluezone_alert_sources() -> dict[str, str]:
    """How a venue exposure is worded in the person's alert (translated through this plugin's catalogue)."""
    from bluezone.i18n import N_

    return {"venue": N_("at a venue you checked in to with a QR code")}


@hookimpl
def bluezone_register_commands(cli: Any) -> None:
    from .cli import register

    register(cli)
