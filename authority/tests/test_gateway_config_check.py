"""``bluezone config check`` knows the gateway's own file, and ``bluezone gateway --config``
refuses a broken one in one line.

Real files throughout: a CA, server and client certificates made by the operator's
commands' code (``gateway.certs``), the ``bluezone`` console script as a subprocess.
Every problem sits in one file, so the test also proves that no problem hides another.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bluezone_authority.gateway import certs
from bluezone_authority.gateway.config_check import problems
from bluezone_authority.gateway.settings import GatewayConfigError, GatewaySettings

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
ENV = {"LANGUAGE": "en", "PATH": "/usr/bin:/bin"}

BROKEN = """[gateway]
host = "gate way"
port = 70000
database = "no-such-folder/gateway.db"
ca = "gateway.pem"
cert = "48.pem"
key = "gateway.key"
retention_days = 0
max_body_bytes = "big"
colour = "blue"

[provinces]
codes = ["48"]
"""
#: (line, words the problem on that line must hold)
EXPECTED = [
    (2, "'gate way' is neither an IP address nor a host name"),
    (3, "from 1 to 65535, got 70000"),
    (4, "does not exist"),
    (5, "is not a CA certificate"),
    (6, "48.pem is not a server certificate"),
    (7, "gateway.key is not the key of"),
    (8, "at least 1 day, got 0"),
    (9, "must be a whole number"),
    (10, "unknown setting 'colour'"),
    (12, "unknown section in a gateway file"),
]


@pytest.fixture
def pki(tmp_path):
    certs.init_ca(tmp_path / "ca")
    certs.issue(tmp_path / "ca", "gateway", tmp_path / "gateway", server_hosts=["127.0.0.1"])
    certs.issue(tmp_path / "ca", "48", tmp_path / "48")
    return tmp_path


def check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([BLUEZONE, "config", "check", str(path)], capture_output=True, text=True, timeout=120,
                          env=ENV)


def write(folder: Path, body: str) -> Path:
    path = folder / "gateway.toml"
    path.write_text(body)
    return path


GOOD = '[gateway]\nhost = "127.0.0.1"\nport = 8453\ndatabase = "gateway.db"\nca = "ca/ca.pem"\n' \
       'cert = "gateway.pem"\nkey = "gateway.key"\nretention_days = 14\n'


def test_a_good_gateway_file_checks_ok(pki):
    out = check(write(pki, GOOD))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"{pki / 'gateway.toml'}: OK — ") and "[gateway]" in out.stdout
    assert not (pki / "gateway.db").exists()  # checking opens no database


def test_every_problem_in_one_run_each_with_its_line(pki):
    path = write(pki, BROKEN)
    before = path.read_bytes()
    out = check(path)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    lines = out.stderr.splitlines()
    for line_no, words in EXPECTED:
        assert any(line.startswith(f"{path}:{line_no}: ") and words in line for line in lines), (words, out.stderr)
    assert f"{len(EXPECTED)} problems found in {path}." in out.stderr
    assert path.read_bytes() == before


def test_the_gateway_refuses_a_broken_file_in_one_line_and_writes_nothing(pki):
    path = write(pki, BROKEN.replace('database = "no-such-folder/gateway.db"', 'database = "gateway.db"'))
    out = subprocess.run([BLUEZONE, "gateway", "--config", str(path)], capture_output=True, text=True, timeout=120,
                         env=ENV)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    [line] = out.stderr.splitlines()
    assert line.startswith("Lỗi / Error: ") and f"{path}:2: [gateway] host: " in line  # the file's first problem
    assert f"({len(EXPECTED) - 1} problems in {path}; run 'bluezone config check {path}' for details)" in line
    assert not (pki / "gateway.db").exists()
    # the operator's other command that reads the file refuses it the same way
    add = subprocess.run([BLUEZONE, "gateway", "province", "add", "--config", str(path), "--code", "48",
                          "--signing-key", str(pki / "48.pem")], capture_output=True, text=True, timeout=120, env=ENV)
    assert add.returncode == 2 and len(add.stderr.splitlines()) == 1 and not (pki / "gateway.db").exists()


def _self_signed_ca(folder: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "another CA")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=9))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True).sign(key, hashes.SHA256()))
    folder.mkdir()
    (folder / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return folder / "ca.pem"


@pytest.mark.parametrize("change, key, words", [
    (('ca = "ca/ca.pem"', 'ca = "other/ca.pem"'), "cert", "was not issued by the CA in"),
    (('cert = "gateway.pem"', 'cert = "gone.pem"'), "cert", "gone.pem does not exist"),
    (('key = "gateway.key"', 'key = "48.key"'), "key", "48.key is not the key of"),
    (('key = "gateway.key"', 'key = "ca/ca.pem"'), "key", "is not a PEM private key"),
    (('ca = "ca/ca.pem"', 'ca = "gateway.key"'), "ca", "is not a PEM certificate"),
    (('database = "gateway.db"', 'database = "mysql://gw@db/gateway"'), "database", "or a postgresql:// URL"),
    (('database = "gateway.db"', 'database = "ca"'), "database", "is a folder"),
    (('port = 8453', 'port = true'), "port", "must be a whole number"),
    (('retention_days = 14', 'retention_days = 9999999999999999999'), "retention_days", "at most 3650 days"),
    (('port = 8453', 'port = 8453\nmax_body_bytes = 99999999999999999999'), "max_body_bytes", "at most 1073741824"),
    (('database = "gateway.db"', 'database = "fifo"'), "database", "fifo is not a regular file"),
    (('database = "gateway.db"', 'database = "/dev/null"'), "database", "/dev/null is not a regular file"),
    (('database = "gateway.db"', 'database = "loop"'), "database", "loop: Too many levels of symbolic links"),
    (('key = "gateway.key"\n', ''), None, "key is required"),
])
def test_each_tls_and_database_problem_is_named(pki, change, key, words):
    import os

    _self_signed_ca(pki / "other")
    os.mkfifo(pki / "fifo")
    os.symlink("loop2", pki / "loop")
    os.symlink("loop", pki / "loop2")
    path = write(pki, GOOD.replace(*change))
    found = problems(path)
    assert len(found) == 1, found
    assert found[0].location == (f"[gateway] {key}" if key else "[gateway]") and words in found[0].message
    with pytest.raises(GatewayConfigError, match="1 problem in"):
        GatewaySettings.load(path)


def test_a_postgresql_url_is_a_database_the_check_accepts(pki):
    """The gateway runs on PostgreSQL too: its URL is not a problem (whether the
    server answers is found when the gateway starts, in one line)."""
    path = write(pki, GOOD.replace('database = "gateway.db"', 'database = "postgresql://gw@db.internal/gateway"'))
    assert problems(path) == []
    assert GatewaySettings.load(path).database == "postgresql://gw@db.internal/gateway"


def test_an_expired_server_certificate_is_named(pki):
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=certs.VALID_DAYS + 1)
    [found] = problems(write(pki, GOOD), now=future)
    assert found.location == "[gateway] cert" and "expired on" in found.message and found.line == 6


def test_a_file_that_is_not_toml_is_named_with_its_line(pki):
    [found] = problems(write(pki, GOOD + "port = \n"))
    assert found.location == "TOML" and found.line == 9


def test_a_fifo_or_a_device_as_gateway_file_is_one_problem_not_a_hang(pki):
    """``bluezone gateway --config`` reads its file as config check does: a FIFO
    (which nothing writes to) or /dev/zero is refused at once."""
    import os

    fifo = pki / "fifo.toml"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        [found] = problems(path)
        assert found.location == "file" and "not a regular file" in found.message
        with pytest.raises(GatewayConfigError, match="not a regular file"):
            GatewaySettings.load(path)


@pytest.mark.parametrize("database", ["fifo", "loop"])
def test_the_gateway_on_a_fifo_or_a_symlink_loop_is_one_line_and_writes_nothing_beside_it(pki, database):
    """SQLite opened a FIFO or a device as a database file: a traceback after it
    had written its journal and the gateway's lock file beside it (as root,
    /dev/null-journal in /dev). The store refuses it before opening anything,
    whoever calls it."""
    import os

    from bluezone_authority.gateway.store import GatewayStore
    from bluezone_authority.server.database import DatabaseError

    os.mkfifo(pki / "fifo")
    os.symlink("loop2", pki / "loop")
    os.symlink("loop", pki / "loop2")
    before = sorted(os.listdir(pki))
    with pytest.raises(DatabaseError, match="not a regular file|symbolic links"):
        GatewayStore(pki / database)
    out = subprocess.run([BLUEZONE, "gateway", "--config", str(write(pki, GOOD.replace("gateway.db", database)))],
                         capture_output=True, text=True, timeout=120, env=ENV)
    assert out.returncode == 2 and "Traceback" not in out.stderr and len(out.stderr.splitlines()) == 1, out.stderr
    assert sorted(os.listdir(pki)) == sorted([*before, "gateway.toml"])


@pytest.mark.parametrize("setting, target", [("ca", "fifo"), ("key", "/dev/zero"), ("cert", "big.pem")])
def test_a_tls_file_that_is_a_fifo_a_device_or_huge_is_named_not_read(pki, setting, target):
    """ca/cert/key naming a FIFO hung the check and the gateway's start;
    /dev/zero was read until memory ran out. Run as a process: the bug hangs."""
    import os

    os.mkfifo(pki / "fifo")
    with (pki / "big.pem").open("wb") as f:
        f.truncate(2 * 1024 * 1024)  # sparse: 2 MiB of nothing
    body = GOOD.replace(f'{setting} = "{ {"ca": "ca/ca.pem", "cert": "gateway.pem", "key": "gateway.key"}[setting]}"',
                        f'{setting} = "{target}"')
    assert body != GOOD
    path = write(pki, body)
    out = check(path)  # the subprocess' timeout=120 is the hang guard
    assert out.returncode == 1, out.stdout + out.stderr
    line = next(line for line in (out.stdout + out.stderr).splitlines() if f"[gateway] {setting}:" in line)
    assert "not a regular file" in line or "larger than 1048576 bytes" in line, line
