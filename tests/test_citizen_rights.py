"""The citizen's rights through the real console script on real files:
consent per purpose at init, withdrawal that stops processing, the
processing notice, the export of everything, deleting everything, settings
changeable at any time, and the warnings about hosts abroad.

Before this, init asked nothing, none of these commands existed, and a
deployment could point phones at any host abroad without a word."""

from __future__ import annotations

import base64
import json
import stat
import subprocess
import sys
from pathlib import Path

import nacl.public
import pytest

from bluezone.store.engine import open_raw
from bluezone.store.secrets import default_key_file

pytestmark = pytest.mark.needs_plugins  # check-in and trace come from their plugins

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))


def cli(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([BLUEZONE, *args], capture_output=True, text=True, cwd=cwd, timeout=120, input=stdin)


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def refused(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    # the deployment's languages, or the phone's alone once its store is open (English here)
    assert last.startswith(("Lỗi / Error: ", "Lỗi: ", "Error: ")), result.stderr
    return last


PRIVACY = '''[privacy]
notice_version = "2026-12"
controller = "Sở Y tế tỉnh Gia Lai"
contact_email = "dulieu@soyte.gialai.gov.vn"
protection_contact = "Phòng Công nghệ thông tin"
'''


@pytest.fixture
def folder(tmp_path):
    authority_key = base64.b64encode(bytes(nacl.public.PrivateKey.generate().public_key)).decode()
    (tmp_path / "province.toml").write_text(
        '[deployment]\nname = "Gia Lai"\nregion = "452"\n'
        '[plugins]\ndisabled = ["alerts-console"]\nallow_missing = ["alert sink"]\n'
        f'[authority]\nurl = "file://{tmp_path / "mirror"}"\ndeclaration_public_key = "{authority_key}"\n'
        f'[qr_checkin]\nurl_base = "https://qr.example.vn"\nauthority_public_key = "{authority_key}"\n' + PRIVACY)
    (tmp_path / "mirror").mkdir()
    ok(cli("venue", "create", "--name", "Quán cà phê Phố Núi", "--address", "Pleiku", "--out",
           str(tmp_path / "venue"), "--config", "province.toml", cwd=tmp_path))
    return tmp_path


def init(folder: Path, *extra: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return cli("init", "--config", "province.toml", "--store", "phone.db", "--language", "en", *extra,
               cwd=folder, stdin=stdin)


def common() -> list[str]:
    return ["--config", "province.toml", "--store", "phone.db"]


def checkin(folder: Path) -> subprocess.CompletedProcess:
    url = (folder / "venue" / "entry-url.txt").read_text().strip()
    return cli("checkin", url, "--yes", *common(), cwd=folder)


def rows(folder: Path, sql: str) -> list[tuple]:
    """Read the phone's store with its key (the file itself is encrypted)."""
    conn = open_raw(folder / "phone.db")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_init_without_an_answer_sets_nothing_up(folder):
    line = refused(init(folder, stdin=""))
    assert "--consent" in line and "nothing was set up" in line
    assert not (folder / "phone.db").exists() and not default_key_file(folder / "phone.db").exists()


def test_init_asks_each_purpose_after_the_notice_and_records_the_answers(folder):
    out = ok(init(folder, stdin="y\nn\ny\ny\nn\n"))
    assert "Sở Y tế tỉnh Gia Lai" in out and "dulieu@soyte.gialai.gov.vn" in out  # the notice came first
    assert out.count("Agree:") == 5
    got = {p: (g, v) for p, g, v in rows(folder, "SELECT purpose, granted, notice_version FROM consents")}
    assert got == {"bluetooth": (1, "2026-12"), "venues": (0, "2026-12"), "f2": (1, "2026-12"),
                   "declarations": (1, "2026-12"), "submitters": (0, "2026-12")}
    assert all(t > 0 for (t,) in rows(folder, "SELECT decided_at FROM consents"))


def test_init_refuses_an_unknown_purpose_and_creates_nothing(folder):
    line = refused(init(folder, "--consent", "bluetooth,location"))
    assert "--consent" in line and not (folder / "phone.db").exists()


def test_venues_refused_at_init_refuses_check_in_until_given(folder):
    ok(init(folder, "--consent", "bluetooth,f2"))
    line = refused(checkin(folder))
    assert "bluezone consent give venues" in line and "You have not agreed" in line
    assert "chưa đồng ý" not in line  # the phone was set up in English: English alone
    assert rows(folder, "SELECT count(*) FROM visits") == [(0,)]
    ok(cli("consent", *common(), "give", "venues", cwd=folder))
    ok(checkin(folder))
    assert rows(folder, "SELECT count(*) FROM visits") == [(1,)]


def test_consent_takes_config_and_store_after_the_subcommand_too(folder):
    """'bluezone consent withdraw venues --config C --store S' works as
    written in a person's notes; with neither, one usage line says what to give."""
    ok(init(folder, "--consent", "all"))
    ok(checkin(folder))
    out = ok(cli("consent", "withdraw", "venues", *common(), cwd=folder))
    assert "1 related record deleted" in out
    assert rows(folder, "SELECT count(*) FROM visits") == [(0,)]
    ok(cli("consent", "give", "venues", *common(), cwd=folder))
    missing = cli("consent", "withdraw", "venues", cwd=folder)
    assert missing.returncode == 2 and "--config" in missing.stderr and "--store" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_withdrawing_venues_stops_check_in_and_deletes_the_visits(folder):
    ok(init(folder, "--consent", "all"))
    ok(checkin(folder))
    out = ok(cli("consent", *common(), "withdraw", "venues", cwd=folder))
    assert "1 related record deleted" in out
    assert rows(folder, "SELECT count(*) FROM visits") == [(0,)]
    refused(checkin(folder))
    assert rows(folder, "SELECT count(*) FROM visits") == [(0,)]
    shown = json.loads(ok(cli("consent", *common(), "--json", cwd=folder)))
    assert shown["venues"]["granted"] is False and shown["bluetooth"]["granted"] is True


def test_withdrawing_bluetooth_refuses_tracing_before_the_radio(folder):
    ok(init(folder, "--consent", "all"))
    ok(cli("consent", *common(), "withdraw", "bluetooth", cwd=folder))
    line = refused(cli("trace", *common(), "--scans", "1", cwd=folder))
    assert "bluezone consent give bluetooth" in line


def test_withdrawing_declarations_refuses_declare_and_seals_nothing(folder):
    ok(init(folder, "--consent", "all"))
    ok(cli("consent", *common(), "withdraw", "declarations", cwd=folder))
    line = refused(cli("declare", *common(), "--from-json", "-", "--no-submit", "--out", "d.sealed", cwd=folder,
                       stdin="{}"))
    assert "declarations" in line and not (folder / "d.sealed").exists()


def test_settings_show_and_change_f2_and_language_at_any_time(folder):
    ok(init(folder, "--consent", "all"))
    assert json.loads(ok(cli("settings", *common(), "--json", cwd=folder))) == {"f2": "on", "language": "en"}
    out = ok(cli("settings", *common(), "--f2", "off", "--language", "vi", cwd=folder))
    assert "Đã đổi f2 thành off." in out
    assert json.loads(ok(cli("settings", *common(), "--json", cwd=folder))) == {"f2": "off", "language": "vi"}
    assert rows(folder, "SELECT granted FROM consents WHERE purpose = 'f2'") == [(0,)]
    assert rows(folder, "SELECT value FROM meta WHERE key = 'f2_opt_in'") == [("0",)]
    ok(cli("settings", *common(), "--f2", "on", cwd=folder))
    assert json.loads(ok(cli("settings", *common(), "--json", cwd=folder)))["f2"] == "on"


def test_settings_refuse_a_language_the_deployment_does_not_offer_and_change_nothing(folder):
    toml = folder / "province.toml"
    toml.write_text(toml.read_text().replace('region = "452"\n', 'region = "452"\nlanguages = ["vi"]\n'))
    ok(cli("init", "--config", "province.toml", "--store", "phone.db", "--consent", "all", cwd=folder))
    line = refused(cli("settings", *common(), "--language", "en", cwd=folder))
    assert "không có ở đây" in line  # a Vietnamese-only deployment answers in Vietnamese
    assert json.loads(ok(cli("settings", *common(), "--json", cwd=folder)))["language"] == "vi"


def test_a_language_the_deployment_does_not_offer_is_refused_before_anything_is_shown(folder):
    """The languages are the deployment's (here Vietnamese and English), not
    a fixed list: another is refused in one line, before the notice or a
    question, and init sets nothing up."""
    line = refused(cli("privacy", "--config", "province.toml", "--language", "fr", cwd=folder))
    assert "'fr'" in line and "vi, en" in line
    asked = cli("init", "--config", "province.toml", "--store", "phone.db", "--language", "fr", cwd=folder,
                stdin="y\n" * 5)
    assert "'fr'" in refused(asked) and asked.stdout == ""  # no notice, no question
    assert not (folder / "phone.db").exists()


def test_my_data_exports_every_table_readably_and_privately(folder):
    ok(init(folder, "--consent", "all"))
    ok(checkin(folder))
    out = ok(cli("my-data", *common(), "--out", "mine.json", cwd=folder))
    assert "visits: 1" in out and "consents: 5" in out and "secret keys" in out
    path = folder / "mine.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    tables = {t for (t,) in rows(folder, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert set(data["tables"]) == tables - {t for t in tables if t.startswith("sqlite_")}
    [visit] = data["tables"]["visits"]
    assert "Phố Núi" in json.dumps(visit["opened"], ensure_ascii=False)  # opened with the store key
    [key] = data["tables"]["own_keys"]
    assert len(bytes.fromhex(key["opened"])) == 16 and "sealed" not in key
    assert "key_check" not in {m["key"] for m in data["tables"]["meta"]}


def test_forget_asks_then_deletes_the_store_and_its_key(folder):
    ok(init(folder, "--consent", "all"))
    store, key = folder / "phone.db", default_key_file(folder / "phone.db")
    line = refused(cli("forget", "--store", "phone.db", cwd=folder, stdin="n\n"))
    assert "Nothing was deleted" in line and store.exists() and key.exists()
    out = ok(cli("forget", "--store", "phone.db", "--yes", cwd=folder))
    assert "holds no Bluezone data" in out
    assert not key.exists() and not any(p.name.startswith("phone.db") for p in folder.iterdir())
    assert "bluezone init" in refused(cli("status", *common(), cwd=folder))


def test_privacy_shows_the_notice_from_the_deployment_in_both_languages(folder):
    en = ok(cli("privacy", "--config", "province.toml", "--language", "en", cwd=folder))
    vi = ok(cli("privacy", "--config", "province.toml", "--language", "vi", cwd=folder))
    for text in (en, vi):
        assert "Sở Y tế tỉnh Gia Lai" in text and "Phòng Công nghệ thông tin" in text and "2026-12" in text
    assert "Kept for: 14 days" in en and "Thời hạn lưu: 14 ngày" in vi
    data = json.loads(ok(cli("privacy", "--config", "province.toml", "--json", cwd=folder)))
    assert [p["purpose"] for p in data["purposes"]] == ["bluetooth", "venues", "f2", "declarations", "submitters"]
    assert data["controller"]["email"] == "dulieu@soyte.gialai.gov.vn"


def test_config_check_warns_about_hosts_outside_the_country(folder):
    toml = folder / "province.toml"
    base = toml.read_text()
    toml.write_text(base + '[transport]\ndownload_url = "https://cdn.example.com/feeds"\n')
    result = cli("config", "check", "province.toml", cwd=folder)
    assert result.returncode == 0 and "OK" in result.stdout  # a warning, not an error
    [warning] = [line for line in result.stderr.splitlines() if "warning" in line]
    assert "[transport] download_url" in warning and "cdn.example.com" in warning and "nước ngoài" in warning
    toml.write_text(base.replace('notice_version = "2026-12"\n',
                                 'notice_version = "2026-12"\nhosts_in_country = [".vn", "cdn.example.com"]\n')
                    + '[transport]\ndownload_url = "https://cdn.example.com/feeds"\n')
    result = cli("config", "check", "province.toml", cwd=folder)
    assert result.returncode == 0 and "warning" not in result.stderr
