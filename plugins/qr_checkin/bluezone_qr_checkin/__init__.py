"""Bluezone venue QR check-in: CrowdNotifier v3 (basic and managed variants).

The hook implementations are re-exported here because the entry point
(``qr-checkin = "bluezone_qr_checkin"``) registers this module. Heavy imports
(pymcl, reportlab, zxing-cpp) happen inside the hooks, so loading the plugin
costs nothing until a venue feature is used. See docs/qr_checkin.md.
"""

from .plugin import (  # noqa: F401
    bluezone_alert_sources,
    bluezone_config_schema,
    bluezone_dashboard_counters,
    bluezone_feeds,
    bluezone_message_catalogues,
    bluezone_portal_menu_links,
    bluezone_portal_pages,
    bluezone_register_commands,
    bluezone_server_migrations,
    bluezone_server_retention,
    bluezone_server_routes,
    bluezone_staff_roles,
)
