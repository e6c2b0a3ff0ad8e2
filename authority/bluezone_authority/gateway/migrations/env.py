"""Alembic's entry point for the gateway database (docs/federation.md, "The gateway's schema").

The work is done by :func:`bluezone_authority.server.schema_versions.run_env`
on the connection the gateway's store hands over when it opens (one
transaction, under the lock ``gateway-migrate``). Not for the ``alembic``
command."""

from alembic import context

from bluezone_authority.server.schema_versions import run_env

run_env(context)
