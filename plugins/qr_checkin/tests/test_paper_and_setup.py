"""The venue owner's paper and the citizen's set-up, through the console script.

* ``venue trace --tracing-code`` takes the printed ``tracing-code.pdf`` and a
  photo of the print (tilted, blurred, JPEG), not only ``tracing-code.bin``;
* ``checkin`` never writes outside the store ``bluezone init`` made;
* poster URLs come from the deployment's ``[qr_checkin] url_base`` only.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nacl.public
import pytest
from PIL import Image, ImageFilter

from bluezone_qr_checkin import poster
from bluezone_qr_checkin.derive import affected_hours
from bluezone_qr_checkin.qrimage import tracing_code_bytes

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
URL_BASE = "https://qr.gialai.example"


def run(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([BLUEZONE, *args], capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={k: v for k, v in {**os.environ, **(env or {})}.items() if k != "BLUEZONE_STORE"})


def deployment(folder: Path, url_base: str | None = URL_BASE) -> Path:
    key = base64.b64encode(bytes(nacl.public.PrivateKey.generate().public_key)).decode()
    path = folder / "province.toml"
    path.write_text('[deployment]\nname = "Gia Lai"\nregion = "452"\n'
                    '[authority]\nurl = "https://authority.gialai.example"\n'
                    "[qr_checkin]\n" + (f'url_base = "{url_base}"\n' if url_base else "")
                    + f'authority_public_key = "{key}"\n')
    return path


@pytest.fixture(scope="module")
def venue(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("venue")
    cfg = deployment(folder)
    made = run("venue", "create", "--name", "Sở Y tế Gia Lai", "--address", "Pleiku", "--out", str(folder / "out"),
               "--config", str(cfg))
    assert made.returncode == 0, made.stderr
    return cfg, folder / "out"


def photo_of(pdf: bytes, path: Path) -> Path:
    """What a phone camera makes of the print: smaller, tilted, soft, a grey table under it, JPEG."""
    from io import BytesIO

    page = Image.open(BytesIO(poster.pdf_to_png(pdf, dpi=120))).convert("RGB")
    page = page.rotate(7, expand=True, fillcolor=(90, 90, 90)).filter(ImageFilter.GaussianBlur(0.8))
    page = page.resize((page.width * 3 // 4, page.height * 3 // 4))
    page.save(path, format="JPEG", quality=70)
    return path


def test_the_printed_tracing_code_and_a_photo_of_it_are_read_like_the_file(venue, tmp_path):
    cfg, out = venue
    secret = (out / "tracing-code.bin").read_bytes()
    photo = photo_of((out / "tracing-code.pdf").read_bytes(), tmp_path / "photo.jpg")
    assert tracing_code_bytes(out / "tracing-code.pdf") == secret
    assert tracing_code_bytes(photo) == secret
    # through the console script: the photo of the print (the hardest form) gives an upload
    target = tmp_path / "upload.json"
    done = run("venue", "trace", "--tracing-code", str(photo), "--from", "@1796029200", "--to", "@1796036400",
               "--token", "bzo_x", "--output", str(target))
    assert done.returncode == 0, done.stderr
    assert json.loads(target.read_text())["preTraces"]
    # one pre-trace per hour the window touches (both ends included, as libcrowdnotifier does:
    # 3 for this two-hour window), and the owner is told how many
    hours = {int(n) for n in re.findall(r"\((\d+) (?:giờ|hours?)\)", done.stdout)}
    assert hours == {len(affected_hours(1796029200, 1796036400))} == {3}, done.stdout


def test_a_picture_without_a_tracing_code_is_one_line(venue, tmp_path):
    cfg, out = venue
    done = run("venue", "trace", "--tracing-code", str(out / "poster.pdf"), "--from", "@1796029200",
               "--to", "@1796036400", "--token", "bzo_x", "--output", str(tmp_path / "x.json"))
    assert done.returncode == 2
    assert "tracing code" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr and not (tmp_path / "x.json").exists()


def test_checkin_needs_the_phone_bluezone_init_set_up(venue, tmp_path):
    cfg, out = venue
    url = (out / "entry-url.txt").read_text().strip()
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "XDG_DATA_HOME": str(home / "data"), "BLUEZONE_KEY_DIR": str(home / "keys")}
    done = run("checkin", url, "--yes", "--config", str(cfg), env=env, cwd=home)
    assert done.returncode == 2 and "bluezone init" in done.stderr and "--store" in done.stderr
    assert ".local" not in done.stderr  # no hidden default store somewhere in the home folder
    assert len(done.stderr.strip().splitlines()) == 1
    assert [p for p in home.rglob("*") if p.is_file()] == []  # no store, no key written anywhere
    missing = tmp_path / "never-set-up.db"
    done = run("checkin", url, "--yes", "--config", str(cfg), "--store", str(missing), env=env)
    assert done.returncode == 2 and not missing.exists()
    phone = tmp_path / "phone.db"
    assert run("init", "--config", str(cfg), "--store", str(phone), "--consent", "all", env=env).returncode == 0
    done = run("checkin", url, "--yes", "--config", str(cfg), "--store", str(phone), env=env)
    assert done.returncode == 0, done.stderr


def test_posters_point_only_where_the_deployment_says(venue, tmp_path):
    cfg, out = venue
    assert (out / "entry-url.txt").read_text().startswith(URL_BASE + "?v=3#")
    bare = deployment(tmp_path, url_base=None)
    done = run("venue", "create", "--name", "Quán A", "--address", "Pleiku", "--out", str(tmp_path / "v"),
               "--config", str(bare))
    assert done.returncode == 2 and "url_base" in done.stderr
    assert not (tmp_path / "v" / "poster.pdf").exists()
