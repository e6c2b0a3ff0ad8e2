"""Alembic's entry point for the server database (docs/server.md, "Migrations").

Alembic runs this file for every command; the work is done by
:func:`bluezone_authority.server.schema_versions.run_env`, which migrates on
the connection the server hands over (one transaction, under the lock
``migrate``). Run through ``bluezone authority db upgrade``, not ``alembic``."""

from alembic import context

from bluezone_authority.server.schema_versions import run_env

run_env(context)
