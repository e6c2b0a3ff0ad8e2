"""``bluezone authority init`` and ``authority keys``: a deployment that works as made.

Everything runs through the console script, as an integrator would: the
folder ``init`` writes must check, serve, and let the printed admin into the
portal; a second ``init`` must not touch it; each ``keys`` command must make
a pair whose halves belong together. ``examples/`` is such a deployment.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import nacl.public
import pytest
from cryptography.hazmat.primitives import serialization

from bluezone_authority.server.process import free_port

pytestmark = pytest.mark.needs_plugins  # the deployment has the venue check-in plugin's section

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
REPO = Path(__file__).resolve().parents[2]
SECRETS = ("export-signing.pem", "declarations.key", "venue-authority.key")


def bluezone(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([BLUEZONE, *args], capture_output=True, text=True, timeout=120, input=stdin,
                          stdin=None if stdin is not None else subprocess.DEVNULL)


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def x25519_public(private_file: Path) -> str:
    raw = base64.b64decode(private_file.read_text().strip())
    return base64.b64encode(bytes(nacl.public.PrivateKey(raw).public_key)).decode()


def test_init_makes_a_deployment_whose_files_and_keys_fit_together(tmp_path):
    folder = tmp_path / "gia-lai"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    made = bluezone("authority", "init", str(folder), "--province", "Gia Lai", "--url", url, "--port", str(port))
    assert made.returncode == 0, made.stderr
    assert re.search(r"\(.*\): \S{12,}$", made.stdout.strip().splitlines()[-1])  # the admin's password, once

    for name in SECRETS:
        assert stat.S_IMODE(os.stat(folder / name).st_mode) == 0o600, name
    phones = tomllib.loads((folder / "province.toml").read_text())
    server = tomllib.loads((folder / "server.toml").read_text())
    assert "server" not in phones and "authority_secret_key_file" not in phones["qr_checkin"]
    assert phones["authority"] == server["authority"] and phones["deployment"]["name"] == "Gia Lai"
    # the phones trust the key the server signs with; the posters' key is the server's venue secret's
    signing = serialization.load_pem_private_key((folder / server["server"]["signing_key"]).read_bytes(), None)
    trusted = (folder / phones["authority"]["export_keys"][0]["public_key"]).read_bytes()
    assert signing.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo) == trusted
    assert phones["qr_checkin"]["authority_public_key"] == x25519_public(
        folder / server["qr_checkin"]["authority_secret_key_file"])
    assert phones["authority"]["declaration_public_key"] == x25519_public(folder / "declarations.key")
    readme = (folder / "README.md").read_text()
    assert "BÍ MẬT" in readme and "SECRET" in readme and all(readme.count(name) >= 2 for name in SECRETS)
    assert set(SECRETS) <= set((folder / ".gitignore").read_text().split())
    for name in ("province.toml", "server.toml"):
        checked = bluezone("config", "check", str(folder / name))
        assert checked.returncode == 0, checked.stderr

    # serving it and logging in with the printed password: test_first_day.py


def test_init_refuses_an_existing_deployment_and_leaves_it_alone(tmp_path):
    folder = tmp_path / "d"
    assert bluezone("authority", "init", str(folder), "--province", "Gia Lai").returncode == 0
    before = digests(folder)
    again = bluezone("authority", "init", str(folder), "--province", "Kon Tum")
    assert again.returncode != 0 and "Traceback" not in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1 and "province.toml" in again.stderr
    assert digests(folder) == before


def test_each_keys_command_makes_a_pair_that_belongs_together_and_never_overwrites(tmp_path):
    for kind in ("export", "declarations", "venue"):
        made = bluezone("authority", "keys", kind, str(tmp_path))
        assert made.returncode == 0, made.stderr
    private = serialization.load_pem_private_key((tmp_path / "export-signing.pem").read_bytes(), None)
    public = serialization.load_pem_public_key((tmp_path / "export-signing.pub.pem").read_bytes())
    assert private.public_key().public_numbers() == public.public_numbers()
    for stem in ("declarations", "venue-authority"):
        assert x25519_public(tmp_path / f"{stem}.key") == (tmp_path / f"{stem}.pub").read_text().strip()
        assert stat.S_IMODE(os.stat(tmp_path / f"{stem}.key").st_mode) == 0o600
    before = digests(tmp_path)
    for kind in ("export", "declarations", "venue"):
        again = bluezone("authority", "keys", kind, str(tmp_path))
        assert again.returncode != 0 and len(again.stderr.strip().splitlines()) == 1
    assert digests(tmp_path) == before


def test_the_examples_are_one_consistent_deployment_with_public_halves_only():
    examples = REPO / "examples"
    for file in ("gia-lai.toml", "gia-lai/province.toml", "gia-lai/server.toml"):
        checked = bluezone("config", "check", str(examples / file))
        assert checked.returncode == 0, checked.stderr
    top = tomllib.loads((examples / "gia-lai.toml").read_text())
    made = tomllib.loads((examples / "gia-lai" / "province.toml").read_text())
    assert (examples / top["authority"]["export_keys"][0]["public_key"]).read_bytes() == (
        examples / "gia-lai" / made["authority"]["export_keys"][0]["public_key"]).read_bytes()
    assert top["authority"]["declaration_public_key"] == made["authority"]["declaration_public_key"] == (
        examples / "gia-lai" / "declarations.pub").read_text().strip()
    assert top["qr_checkin"]["authority_public_key"] == made["qr_checkin"]["authority_public_key"] == (
        examples / "gia-lai" / "venue-authority.pub").read_text().strip()
    for path in examples.rglob("*"):
        assert path.name not in SECRETS and "PRIVATE KEY" not in (path.read_text() if path.is_file() else ""), path


@pytest.mark.needs_plugins  # the [qr_checkin] section is written where its plugin is installed
def test_poster_url_is_written_for_the_phones_and_must_be_https(tmp_path):
    refused = bluezone("authority", "init", str(tmp_path / "a"), "--province", "Gia Lai",
                       "--poster-url", "http://qr.example/checkin")
    assert refused.returncode != 0 and "https://" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "a").exists()  # nothing half-made
    made = bluezone("authority", "init", str(tmp_path / "b"), "--province", "Gia Lai",
                    "--poster-url", "https://qr.gialai.example/checkin")
    assert made.returncode == 0, made.stderr
    phones = tomllib.loads((tmp_path / "b" / "province.toml").read_text())
    assert phones["qr_checkin"]["url_base"] == "https://qr.gialai.example/checkin"


def test_a_province_name_with_a_line_break_is_refused_before_any_file_is_written(tmp_path):
    """A newline and a quote in --province once broke province.toml (invalid TOML)
    after the key files were already written."""
    import subprocess
    import sys
    from pathlib import Path
    folder = tmp_path / "d"
    out = subprocess.run([str(Path(sys.executable).with_name("bluezone")), "authority", "init", "--province",
                          'x"\ny', str(folder)], capture_output=True, text=True, timeout=120,
                         env={"LANGUAGE": "en", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "--province must be one line" in out.stderr and not folder.exists()
