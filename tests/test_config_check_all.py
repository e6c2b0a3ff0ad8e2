"""``bluezone config check`` names, in one run and each with its line, what would fail later.

Every problem below passed 'config check' once and then crashed or misled a
command (sync, checkin, visits, venue create). They sit in one file together
with a schema error, so the test also proves that no problem hides another.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bluezone.config import ConfigError, load_config

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
PRIVATE_PEM = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgevZzL1gdAFr88hb2
OF/2NxApJCzGCEDdfSp6VQO30hyhRANCAAQRWz+jn65BtOMvdyHKcvjBeBSDZH2r
1RTwjmYSi9R/zpBnuQ4EiMnCqfMPWiZqB4QdbAd0E7oH50VpuZ1P087G
-----END PRIVATE KEY-----
"""  # the P-256 key of RFC 7515 appendix A.3 (a published test key)
BROKEN = """[deployment]
name = "Gia Lai"
region = "452"
timezone = "Asia/Hanoi_City"

[schedule]
name = "nope"

[retention]
days = "fourteen"

[risk]
attenuation_thresholds_db = [68, 63, 58]
isolation_days = 0

[authority]
url = "https://"
export_keys = [ { key_id = "452", public_key = "gone.pub.pem" }, { key_id = "453", public_key = "private.pem" } ]
declaration_public_key = "QUJD"
"""
#: (line, words the problem on that line must hold)
EXPECTED = [
    (4, "unknown time zone 'Asia/Hanoi_City'"),
    (7, "unknown key schedule 'nope'"),
    (10, "[retention] days"),
    (13, "thresholds must rise"),
    (14, "isolation_days"),
    (17, "names no host"),
    (18, "gone.pub.pem does not exist"),
    (18, "holds a private key"),
    (19, "must be 32 bytes of base64"),
]


def test_every_problem_in_one_run_each_with_its_line(tmp_path):
    (tmp_path / "private.pem").write_text(PRIVATE_PEM)
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN)
    before = path.read_bytes()
    out = subprocess.run([BLUEZONE, "config", "check", str(path)], capture_output=True, text=True, timeout=120,
                         env={"LANGUAGE": "en", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 1 and "Traceback" not in out.stderr
    lines = out.stderr.splitlines()
    for line_no, words in EXPECTED:
        assert any(line.startswith(f"{path}:{line_no}: ") and words in line for line in lines), (words, out.stderr)
    assert f"{len(EXPECTED)} problems found in {path}." in out.stderr
    assert path.read_bytes() == before


@pytest.mark.parametrize("text, words", [
    ('declaration_public_key = "not base64!"', "not base64"),
    ('export_keys = [ { key_id = "452", public_key = "key.pub.pem" } ]', "not a PEM public key"),
    ('url = "http://host:99999"', "port"),
])
def test_a_key_or_url_that_cannot_work_is_refused_at_load(tmp_path, text, words):
    (tmp_path / "key.pub.pem").write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    body = '[deployment]\nname = "X"\nregion = "452"\n\n[authority]\n'
    body += text + "\n" if text.startswith("url") else f'url = "https://a.vn"\n{text}\n'
    path = tmp_path / "d.toml"
    path.write_text(body)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert [p.line for p in e.value.problems] == [6 if text.startswith("url") else 7]
    assert words in e.value.problems[0].message


@pytest.mark.needs_plugins
def test_a_venue_authority_key_abc_is_named(tmp_path):
    path = tmp_path / "d.toml"
    path.write_text('[deployment]\nname = "X"\nregion = "452"\n\n[authority]\nurl = "https://a.vn"\n\n'
                    '[qr_checkin]\nauthority_public_key = "abc"\n')
    out = subprocess.run([BLUEZONE, "config", "check", str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert f"{path}:9: [qr_checkin]: authority_public_key is not base64" in out.stderr


def test_a_section_of_a_distribution_not_installed_says_what_to_install():
    from bluezone.config import check_data
    from bluezone.plugins import plugin_set

    text = ('[deployment]\nname = "X"\nregion = "452"\n\n[authority]\nurl = "https://a.vn"\n\n'
            '[qr_checkin]\nauthority_public_key = "abc"\n')
    phone_without_venues = plugin_set({"disabled": ["qr-checkin"]}).pm  # as if bluezone-qr-checkin were absent
    problems = check_data(tomllib.loads(text), text, pm=phone_without_venues)
    assert [(p.location, p.line) for p in problems] == [("[qr_checkin]", 8)]
    assert "bluezone-qr-checkin" in problems[0].message and "plugins/qr_checkin" in problems[0].message
