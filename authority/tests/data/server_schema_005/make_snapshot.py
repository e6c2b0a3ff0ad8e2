"""Write the schema the named-migration code (before Alembic) made, on both
backends: ``sqlite.txt`` and ``postgresql.txt`` beside this file.

Run from the repository with this commit's venv; OLD is a tree of the code
before Alembic (see README.md). The database is built by the old code in a
subprocess and described by today's ``describe_schema``.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bluezone_authority.server import pg_testing
from bluezone_authority.server.testing import describe_schema

OLD = Path(sys.argv[1])
HERE = Path(__file__).parent
BUILD = "import sys; from bluezone_authority.server.db import ServerDB, CORE_MIGRATIONS; ServerDB(sys.argv[1]).close()"


def build_with_old_code(location: str) -> None:
    env = {**os.environ, "PYTHONPATH": f"{OLD}:{OLD / 'authority'}"}
    check = subprocess.run([sys.executable, "-c", "import bluezone_authority; print(bluezone_authority.__file__)"],
                           env=env, capture_output=True, text=True, check=True)
    assert check.stdout.startswith(str(OLD)), check.stdout  # really the old code
    subprocess.run([sys.executable, "-c", BUILD, location], env=env, check=True)


with tempfile.TemporaryDirectory() as tmp:
    path = str(Path(tmp) / "server.db")
    build_with_old_code(path)
    (HERE / "sqlite.txt").write_text("\n".join(describe_schema(path)) + "\n")
cluster = pg_testing.start_cluster()
try:
    url = cluster.new_database()
    build_with_old_code(url)
    (HERE / "postgresql.txt").write_text("\n".join(describe_schema(url)) + "\n")
finally:
    cluster.stop()
