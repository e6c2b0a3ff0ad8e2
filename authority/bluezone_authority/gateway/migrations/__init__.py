"""The gateway database's Alembic environment: ``env.py``, the revision
template and ``versions/`` (branch ``gateway``).

Why the gateway has revisions of its own: its store is a separate database
(its own file or ``postgresql://`` URL, docs/federation.md) with its own
tables, so it is migrated by the same runner as the province servers'
(:mod:`..server.schema_versions`) but from this folder, with its own version
table (:data:`VERSION_TABLE`) and lock (:data:`LOCK`): a gateway and a
province server that share one PostgreSQL database never mix their
revisions or wait on each other's migration.

Revision files speak the server's SQL dialect through
:func:`bluezone_authority.server.migrations.connection` (``?`` placeholders,
``INTEGER``/``TEXT``/``BLOB`` columns, translated for PostgreSQL).
"""

from __future__ import annotations

from pathlib import Path

#: ``script_location`` of the gateway's schema (env.py, script.py.mako, versions/).
LOCATION = Path(__file__).parent
#: The branch label of every gateway revision (their ids begin with a digit).
BASE_LABEL = "gateway"
#: Where the applied gateway revisions are recorded (not ``alembic_version``: that is a province server's).
VERSION_TABLE = "gateway_alembic_version"
#: The cross-process lock two gateways starting together take, so they migrate once.
LOCK = "gateway-migrate"
