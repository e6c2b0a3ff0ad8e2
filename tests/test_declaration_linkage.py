"""Linkage from alerts: after an F1, F2 or venue alert the declaration carries
the tier and the exposure date — never keys, identifiers, scores or a venue —
and, when the authority asks, a verification code. Also: the person's copy is
kept only if they choose, encrypted at rest, and bad input stores nothing."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bluezone.declarations.fixtures import TODAY, good_answers, write_deployment

from bluezone.declarations import Linkage, LinkageError, load_private_key, make_declaration, offers, open_sealed
from bluezone.declarations.ncovi_form import ncovi_form
from bluezone.models import Alert, Tier
from bluezone.store import DeviceStore

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
D = dt.timedelta(days=1)
SECRET_VENUE = "Quán cà phê Hoa Sữa"


def alert(tier: Tier, day: dt.date, source: str = "ble") -> Alert:
    return Alert(exposure_id=f"{source}-{tier.name}-{day}", tier=tier, source=source, exposure_date=day,
                 created_at=1, isolate_until=day + 14 * D,
                 messages={"vi": f"Bạn đã ở {SECRET_VENUE}", "en": f"You were at {SECRET_VENUE}"})


def store_with_alerts(tmp_path: Path) -> Path:
    path = tmp_path / "phone.db"
    with DeviceStore(path) as s:
        s.add_alert(alert(Tier.F1, TODAY - 3 * D, "ble"))
        s.add_alert(alert(Tier.F1, TODAY - 3 * D, "venue"))  # same tier and day: one offer
        s.add_alert(alert(Tier.F2, TODAY - 1 * D, "venue"))
        s.add_alert(alert(Tier.NONE, TODAY, "ble"))
    return path


def test_offers_are_one_per_tier_and_day_newest_first(tmp_path):
    with DeviceStore(store_with_alerts(tmp_path)) as s:
        got = offers(s.alerts())
    assert got == [Linkage(Tier.F2, TODAY - D), Linkage(Tier.F1, TODAY - 3 * D)]


def test_linkage_carries_tier_date_and_code_only():
    link = Linkage.from_alert(alert(Tier.F1, TODAY, "venue"), verification_code="1234 5678")
    assert link.to_dict() == {"tier": "F1", "exposure_date": TODAY.isoformat(), "verification_code": "12345678"}
    d = make_declaration(ncovi_form(), good_answers(), today=TODAY, linkage=link)
    text = d.to_json().decode()
    assert set(json.loads(text)) == {"schema", "language", "declared_on", "answers", "linkage"}
    for leak in (SECRET_VENUE, "venue", "ble", "exposure_id", "score", "key", "identifier", "isolate"):
        assert leak not in json.dumps(json.loads(text)["linkage"])
    assert SECRET_VENUE not in text


@pytest.mark.parametrize("code", ["1234567", "123456789", "ABCDEFGHIJKLMNO!", "abc", ""])
def test_bad_verification_codes_are_refused(code):
    with pytest.raises(LinkageError):
        Linkage(Tier.F1, TODAY, code)


def test_only_f1_and_f2_link():
    with pytest.raises(LinkageError):
        Linkage(Tier.F0, TODAY)
    with pytest.raises(LinkageError):
        Linkage.from_dict({"tier": "F1", "exposure_date": "2026-01-01", "venue": "x"})


def run(*args, stdin=None):
    return subprocess.run([BLUEZONE, *args], capture_output=True, text=True, input=stdin, timeout=60)


def test_cli_links_the_latest_alert_keeps_an_encrypted_copy(tmp_path):
    deploy, pair = write_deployment(tmp_path)
    store = store_with_alerts(tmp_path)
    out = tmp_path / "d.sealed"
    answers = json.dumps(good_answers(), ensure_ascii=False)
    p = run("declare", "--config", str(deploy), "--store", str(store), "--from-json", "-", "--link-alert",
            "--verification-code", "abcd1234efgh5678", "--keep-copy", "--no-submit", "--out", str(out),
            stdin=answers)
    assert p.returncode == 0, p.stderr
    d = open_sealed(out.read_bytes(), pair.private_key)
    assert d.linkage == Linkage(Tier.F2, TODAY - D, "abcd1234efgh5678")
    with DeviceStore(store) as s:
        [(_, _, kept)] = s.declarations()
    assert json.loads(kept)["answers"]["full_name"] == "Nguyễn Thị Lan"
    assert "Nguyễn".encode() not in store.read_bytes() and b"0912345678" not in store.read_bytes()


def test_cli_keeps_no_copy_unless_chosen_and_bad_input_stores_nothing(tmp_path):
    deploy, _ = write_deployment(tmp_path)
    store = store_with_alerts(tmp_path)
    p = run("declare", "--config", str(deploy), "--store", str(store), "--from-json", "-", "--no-submit",
            stdin=json.dumps(good_answers()))
    assert p.returncode == 0, p.stderr
    p = run("declare", "--config", str(deploy), "--store", str(store), "--from-json", "-", "--keep-copy",
            stdin=json.dumps(good_answers(phone="12", year_of_birth=3000)))
    assert p.returncode == 2
    assert "phone" in p.stderr and "year_of_birth" in p.stderr and "nothing was sealed or sent" in p.stderr
    p = run("declare", "--config", str(deploy), "--store", str(store), "--from-json", "-", "--keep-copy",
            stdin="{not json")
    assert p.returncode == 2 and "is not JSON" in p.stderr
    with DeviceStore(store) as s:
        assert s.declarations() == []
        assert len(s.alerts()) == 4  # untouched


def test_cli_refuses_a_code_without_a_link_and_a_link_without_alerts(tmp_path):
    deploy, _ = write_deployment(tmp_path)
    empty = tmp_path / "empty.db"
    DeviceStore(empty).close()
    p = run("declare", "--config", str(deploy), "--store", str(empty), "--from-json", "-", "--link-alert",
            "--no-submit", stdin=json.dumps(good_answers()))
    assert p.returncode == 2 and "no F1/F2 alert" in p.stderr
    p = run("declare", "--config", str(deploy), "--from-json", "-", "--verification-code", "12345678",
            "--no-submit", stdin=json.dumps(good_answers()))
    assert p.returncode == 2 and "needs a linked alert" in p.stderr


def test_cli_without_an_authority_key_says_so(tmp_path):
    path = tmp_path / "nokey.toml"
    path.write_text('[deployment]\nname = "T"\nregion = "452"\n[authority]\nurl = "http://127.0.0.1:9"\n')
    p = run("declare", "--config", str(path), "--from-json", "-", stdin="{}")
    assert p.returncode == 2 and "declaration_public_key" in p.stderr
