"""``bluezone checkin`` / ``visits`` against hostile input (issue 17 item 12),
as real subprocesses: over-long arguments, decompression bombs and huge files
get one clean line (no traceback, nothing stored), and venue names with
terminal escapes, bidi overrides or zero-width characters are printed inert."""

from __future__ import annotations

import base64
import os
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import nacl.public
import pytest

from bluezone.store import DeviceStore
from bluezone_qr_checkin import qrimage
from bluezone_qr_checkin import venue as vmod

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
RAW = ["\x1b", "\x07", "\u202e", "\u2066", "\u200b", "\u200d", "\x9b", "\n"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BLUEZONE, *args], capture_output=True, text=True, timeout=120, env=dict(os.environ))


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width × height`` (a decompression bomb's shape)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1024, 9)) \
        + chunk(b"IEND", b"")


def _assert_clean_refusal(proc: subprocess.CompletedProcess, store: Path) -> None:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("Lỗi / Error: ")
    assert proc.stderr.count("\n") == 1  # one line
    assert not store.exists()  # nothing was stored (the store is opened only after the code is read)


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("bad")
    bomb = d / "bomb.png"
    bomb.write_bytes(_png_header_only(100_000, 100_000))
    medium = d / "medium-bomb.png"  # over our limit, under Pillow's own
    medium.write_bytes(_png_header_only(8_000, 8_000))
    huge = d / "huge.jpg"
    with open(huge, "wb") as f:  # 1 GiB, sparse: costs no disk
        f.write(b"\xff\xd8\xff\xe0")
        f.truncate(1 << 30)
    return {
        "decompression bomb": str(bomb),
        "64 megapixels": str(medium),
        "1 GiB file": str(huge),
        "over-long path": "/tmp/" + "a" * 300 + ".png",
        "very long argument": "b" * 100_000,
        "very long URL": "https://qr.bluezone.gov.vn?v=3#" + "A" * 100_000,
        "path with a NUL-like escape": "photo\\x00.png",
        "a directory": str(d),
    }


@pytest.mark.parametrize("case", ["decompression bomb", "64 megapixels", "1 GiB file", "over-long path",
                                  "very long argument", "very long URL", "path with a NUL-like escape",
                                  "a directory"])
def test_hostile_checkin_arguments_get_one_clean_line(bad_files, tmp_path, case):
    store = tmp_path / "phone.db"
    DeviceStore(store).close()  # a set-up phone: the store is opened first, for the person's language
    proc = run("checkin", bad_files[case], "--yes", "--store", str(store))
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("Lỗi / Error: ")
    assert proc.stderr.count("\n") == 1  # one line
    with DeviceStore(store) as s:
        assert s.visits() == []  # nothing was stored


def test_image_limits_are_checked_before_decoding(bad_files):
    """In process: the refusal names the limit, and Pillow never allocated the picture."""
    with pytest.raises(qrimage.ImageRefused, match="too large"):  # Pillow's own guard, at open
        qrimage.decode_image(bad_files["decompression bomb"])
    with pytest.raises(qrimage.ImageRefused, match="8000 × 8000 pixels, more than 50 megapixels"):
        qrimage.decode_image(bad_files["64 megapixels"])
    with pytest.raises(qrimage.ImageRefused, match="1024 MiB"):
        qrimage.decode_image(bad_files["1 GiB file"])
    assert not qrimage.is_image_path(bad_files["over-long path"])


def test_escape_and_bidi_characters_in_venue_names_are_printed_inert(tmp_path):
    ha = nacl.public.PrivateKey.generate()
    name = "Quán\x1b]0;pwned\x07\x1b[2J\u202egnp.exe\u200b\u200d\x9b\n\u2066Fake line"
    address = "Pleiku\x1b[31m đỏ"
    created = vmod.create_venue(vmod.VenueSpec(name, address), bytes(ha.public_key), now=int(time.time()) - 60)
    store = tmp_path / "phone.db"
    DeviceStore(store).close()  # only 'bluezone init' makes stores; check-in opens an existing one
    shown = run("checkin", created.url(), "--yes", "--store", str(store))
    assert shown.returncode == 0, shown.stderr
    listed = run("visits", "--store", str(store))
    assert listed.returncode == 0, listed.stderr
    for out in (shown.stdout, listed.stdout):
        assert not [c for c in RAW if c in out.replace("\n", "")], repr(out)
        assert "Quán\\x1b]0;pwned\\x07\\x1b[2J\\u202egnp.exe\\u200b\\u200d\\x9b\\x0a\\u2066Fake line" in out
        assert "Pleiku\\x1b[31m đỏ" in out  # Vietnamese letters stay as they are
    assert len(shown.stdout.splitlines()) == 4  # name, address, checked-in line, visit id: no injected line


@pytest.mark.parametrize("args", [("visits",), ("checkout",), ("checkin", "--yes")],
                         ids=["visits", "checkout", "checkin"])
def test_an_over_long_store_path_gets_one_clean_line(args):
    store = Path("/tmp") / ("s" * 300 + ".db")
    if args[0] == "checkin":  # a valid code, so the store is really opened
        ha = nacl.public.PrivateKey.generate()
        args = (*args, vmod.create_venue(vmod.VenueSpec("Quán A", "Pleiku"), bytes(ha.public_key),
                                         now=int(time.time()) - 60).url())
    proc = run(*args, "--store", str(store))
    _assert_clean_refusal(proc, Path("/nonexistent-never-created"))


def test_an_over_long_kiosk_log_path_gets_one_clean_line():
    key = base64.b64encode(nacl.public.PrivateKey.generate().public_key.encode()).decode()
    proc = run("venue", "log", "--log", "/tmp/" + "k" * 300 + ".db", "--name", "Lan", "--phone", "0900",
               "--kiosk-key", key)
    _assert_clean_refusal(proc, Path("/nonexistent-never-created"))
    assert "File name too long" in proc.stderr and len(proc.stderr) < 300


def test_a_missing_picture_is_named_as_missing(tmp_path):
    """A photo path that does not exist is not called 'not a venue code'."""
    store = tmp_path / "phone.db"
    DeviceStore(store).close()
    missing = tmp_path / "poster-photo.png"
    out = run("checkin", str(missing), "--yes", "--store", str(store))
    assert out.returncode == 2 and "No such picture file" in out.stderr and "Không có tệp ảnh" in out.stderr  # vi, en
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
