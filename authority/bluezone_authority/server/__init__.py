"""The health-authority server: codes, uploads, signed feeds, declarations.

Start it with ``bluezone serve --config FILE``. Embed it with::

    server = AuthorityServer.from_config(config)
    app = create_app(server)

Helpers for plugin routes (``bluezone_server_routes``): :func:`server_of`,
:func:`require_staff`, :func:`json_body`, :func:`db_call`, :class:`ApiError`,
:func:`json_error`, and on the server object ``issue_one_time_token``,
``consume_one_time_token`` and ``publish_payload``. See docs/server.md.
"""

from .app import SERVER, create_app, db_call, json_body, require_staff, server_of
from .errors import ApiError, json_error
from .service import AuthorityServer
from .settings import ServerSettings

__all__ = ["SERVER", "ApiError", "AuthorityServer", "ServerSettings", "create_app", "db_call", "json_body",
           "json_error", "require_staff", "server_of"]
