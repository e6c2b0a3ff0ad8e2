"""``bluezone authority staff ...`` through the real console script, on a real
server database; then the account logs in to the portal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bluezone.config import load_config
from bluezone_authority.portal import users
from bluezone_authority.portal.testing import PASSWORD, write_config
from bluezone_authority.server import AuthorityServer

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([BLUEZONE, "authority", "staff", *args], input=stdin, capture_output=True, text=True,
                          timeout=60)


def db_rows(cfg: Path) -> list[tuple]:
    server = AuthorityServer.from_config(load_config(cfg))
    try:
        return server.db.all("SELECT username, name, role, password_hash, failed_logins, locked_until FROM portal_users")
    finally:
        server.close()


def test_staff_add_list_unlock_passwd_remove(tmp_path):
    cfg = write_config(tmp_path, languages=("en", "vi"))  # the operator's output: English first
    c = str(cfg)
    out = run("add", "--config", c, "--username", "Lan.Nguyen", "--name", "Nguyễn Thị Lan", "--role", "case-officer",
              "--password-stdin", stdin=PASSWORD + "\n")
    assert out.returncode == 0, out.stderr
    assert "created lan.nguyen (case-officer)" in out.stdout and PASSWORD not in out.stdout + out.stderr
    [(name, display, role, digest, failed, locked)] = db_rows(cfg)
    assert (name, display, role, failed, locked) == ("lan.nguyen", "Nguyễn Thị Lan", "case-officer", 0, None)
    assert digest.startswith("$argon2id$")
    # the database file is the server's (0600) and holds no clear password
    db_file = tmp_path / "server.db"
    assert PASSWORD.encode() not in db_file.read_bytes()
    assert db_file.stat().st_mode & 0o777 == 0o600

    listed = run("list", "--config", c)
    assert listed.returncode == 0 and listed.stdout.startswith("lan.nguyen\tcase-officer\tactive\tlast login never")

    # lock the account as failed logins would, then unlock it from the command line
    server = AuthorityServer.from_config(load_config(cfg))
    for _ in range(5):
        users.record_failure(server.db, "lan.nguyen", server.now(), 5, 900)
    server.close()
    assert "\tlocked\t" in run("list", "--config", c).stdout
    assert run("unlock", "--config", c, "lan.nguyen").returncode == 0
    assert "\tactive\t" in run("list", "--config", c).stdout

    new = "another long passphrase"
    assert run("passwd", "--config", c, "lan.nguyen", "--password-stdin", stdin=new + "\n").returncode == 0
    assert db_rows(cfg)[0][3] != digest
    assert run("remove", "--config", c, "lan.nguyen").returncode == 0
    assert db_rows(cfg) == []


def test_refusals_are_one_line_and_change_nothing(tmp_path):
    cfg = write_config(tmp_path, languages=("en", "vi"))  # the operator's output: English first
    c = str(cfg)
    assert run("add", "--config", c, "--username", "admin", "--name", "A", "--role", "admin", "--password-stdin",
               stdin=PASSWORD + "\n").returncode == 0
    before = db_rows(cfg)
    cases = [
        (["add", "--username", "admin", "--name", "B", "--role", "admin"], PASSWORD, "exists"),
        (["add", "--username", "bob", "--name", "B", "--role", "admin"], "short", "12"),
        (["add", "--username", "x", "--name", "B", "--role", "admin"], PASSWORD, "2-32"),
        (["add", "--username", "bob smith", "--name", "B", "--role", "admin"], PASSWORD, "2-32"),
        (["add", "--username", "bob", "--name", " ", "--role", "admin"], PASSWORD, "name"),
        (["add", "--username", "bob", "--name", "B", "--role", "admin"], "Bob" + " " * 10, "user name"),
        (["unlock", "nobody"], "", "no user"),
        (["remove", "nobody"], "", "no user"),
        (["passwd", "nobody"], PASSWORD, "no user"),
    ]
    for args, password, fragment in cases:
        cmd, rest = args[0], args[1:]
        extra = ["--password-stdin"] if cmd in ("add", "passwd") else []
        out = run(cmd, "--config", c, *rest, *extra, stdin=password + "\n")
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert fragment in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert "Traceback" not in out.stderr
    bad_role = run("add", "--config", c, "--username", "bob", "--name", "B", "--role", "boss", "--password-stdin",
                   stdin=PASSWORD + "\n")
    assert bad_role.returncode == 2 and "boss" in bad_role.stderr
    assert db_rows(cfg) == before


def test_password_prompt_is_hidden_and_confirmed(tmp_path):
    import pexpect

    cfg = write_config(tmp_path, languages=("en", "vi"))  # the operator's output: English first
    child = pexpect.spawn(BLUEZONE, ["authority", "staff", "add", "--config", str(cfg), "--username", "tuan",
                                     "--name", "Lê Minh Tuấn", "--role", "declarations"], encoding="utf-8", timeout=60)
    child.expect("Password")
    child.sendline(PASSWORD)
    child.expect("Repeat")
    child.sendline("a different one entirely")
    child.expect("do not match")
    child.expect("Password")
    child.sendline(PASSWORD)
    child.expect("Repeat")
    child.sendline(PASSWORD)
    child.expect("created tuan")
    child.expect(pexpect.EOF)
    assert PASSWORD not in child.before
    child.close()
    assert child.exitstatus == 0
    assert db_rows(cfg)[0][:3] == ("tuan", "Lê Minh Tuấn", "declarations")
