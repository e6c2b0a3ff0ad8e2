"""The interactive ``bluezone declare``, driven through a real pseudo-terminal
(pexpect spawning the installed console script): questions in the chosen
language, bad answers re-asked with that language's message, the linked
alert offered, the copy kept on request, and the sealed result opened with
the authority's key."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path

import pexpect
import pytest

from bluezone.declarations.fixtures import TODAY, write_deployment

from bluezone.declarations import Linkage, open_sealed
from bluezone.models import Alert, Tier
from bluezone.store import DeviceStore

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
D = dt.timedelta(days=1)


def spawn(*args: str) -> pexpect.spawn:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "LANG": "C.UTF-8", "TERM": "dumb", "COLUMNS": "120"}
    child = pexpect.spawn(BLUEZONE, list(args), encoding="utf-8", timeout=30, env=env, dimensions=(50, 160))
    return child


def step(child: pexpect.spawn, expect: str, answer: str) -> None:
    child.expect_exact(expect)
    child.sendline(answer)


@pytest.fixture
def phone(tmp_path):
    deploy, pair = write_deployment(tmp_path)
    store = tmp_path / "phone.db"
    with DeviceStore(store) as s:
        s.add_alert(Alert("x", Tier.F1, "venue", TODAY - 2 * D, 1, TODAY + 12 * D, {"vi": "F1", "en": "F1"}))
    return deploy, pair, store, tmp_path / "out.sealed"


def test_vietnamese_declaration_with_corrections_linkage_and_kept_copy(phone):
    deploy, pair, store, out = phone
    child = spawn("declare", "--config", str(deploy), "--store", str(store), "--no-submit", "--out", str(out))
    step(child, "Choose language [vi/en]:", "vi")
    step(child, "Bạn đã nhận cảnh báo F1", "c")
    step(child, "Nhập mã (Enter để bỏ qua):", "1234")
    child.expect_exact("Chưa hợp lệ")
    step(child, "Nhập mã (Enter để bỏ qua):", "1234 5678")
    step(child, "Họ và tên:", "Lan 2")
    child.expect_exact("Chưa hợp lệ: chỉ được dùng chữ cái")
    step(child, "Họ và tên:", "Trần Văn Minh")
    step(child, "Năm sinh:", "1850")
    child.expect_exact("phải từ 1900 đến")
    step(child, "Năm sinh:", "1975")
    child.expect_exact("1) Nam")
    step(child, "Giới tính:", "1")
    step(child, "Quốc tịch [Việt Nam]:", "")
    step(child, "Số CMND/CCCD/hộ chiếu:", "1234567890")
    child.expect_exact("số CMND có 9 chữ số")
    step(child, "Số CMND/CCCD/hộ chiếu:", "064075001122")
    step(child, "Số điện thoại:", "12345")
    child.expect_exact("số điện thoại không hợp lệ")
    step(child, "Số điện thoại:", "+84 905 123 456")
    step(child, "Email (Enter để bỏ qua):", "")
    step(child, "Phương tiện di chuyển [Không di chuyển]:", "")
    child.expect_exact("64 Gia Lai")
    step(child, "Tỉnh/thành:", "99")
    child.expect_exact("không phải lựa chọn hợp lệ")
    step(child, "Tỉnh/thành:", "64")
    step(child, "Quận/huyện:", "")
    child.expect_exact("bắt buộc")
    step(child, "Quận/huyện:", "Pleiku")
    step(child, "Phường/xã:", "Diên Hồng")
    step(child, "Số nhà, đường:", "5 Lê Lợi")
    step(child, "Sốt [c/k]:", "có")
    step(child, "Ho [c/k]:", "có lẽ")
    child.expect_exact("trả lời có (c) hoặc không (k)")
    for prompt in ("Ho [c/k]:", "Khó thở", "Đau họng", "Buồn nôn", "Tiêu chảy", "Xuất huyết", "Nổi ban"):
        step(child, prompt, "k")
    for prompt in ("Tiếp xúc gần", "khu vực có dịch", "biểu hiện sốt", "chợ động vật"):
        step(child, prompt, "k")
    child.expect_exact("1) Bệnh gan")
    step(child, "Bệnh nền (chọn nếu có)", "6, 9")
    child.expect_exact("chỉ dùng cho mục đích phòng chống dịch")
    step(child, "Tôi cam kết", "c")
    child.expect_exact("Tóm tắt tờ khai")
    child.expect_exact("Họ và tên: Trần Văn Minh")
    step(child, "Lưu một bản trên máy này", "c")
    child.expect_exact("đã lưu bản sao")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before

    d = open_sealed(out.read_bytes(), pair.private_key)
    assert d.language == "vi" and d.schema == "ncovi/1"
    assert d.linkage == Linkage(Tier.F1, TODAY - 2 * D, "12345678")
    a = d.answers
    assert (a["full_name"], a["year_of_birth"], a["gender"], a["nationality"]) == ("Trần Văn Minh", 1975, "male", "Việt Nam")
    assert (a["phone"], a["address_province"], a["travel_means"]) == ("+84905123456", "64", "none")
    assert a["symptom_fever"] is True and a["symptom_cough"] is False
    assert a["chronic_conditions"] == ["hypertension", "diabetes"] and "vehicle_number" not in a
    with DeviceStore(store) as s:
        [(_, _, kept)] = s.declarations()
    assert json.loads(kept)["answers"] == a


def test_english_traveller_fixes_dates_after_the_cross_field_check(phone):
    deploy, pair, store, out = phone
    child = spawn("declare", "--config", str(deploy), "--no-submit", "--out", str(out), "--lang", "en",
                  "--no-keep-copy")
    answers = [("Full name:", "Le Thi Hoa"), ("Year of birth:", "2001"), ("Gender:", "female"),
               ("Nationality [Việt Nam]:", "Việt Nam"), ("ID or passport number:", "b1234567"),
               ("Phone number:", "0987654321"), ("Email (Enter to skip):", "hoa@example.vn")]
    for prompt, answer in answers:
        step(child, prompt, answer)
    child.expect_exact("2) Aircraft")
    step(child, "Means of travel [Did not travel]:", "2")
    step(child, "Vehicle number:", "VN123")
    step(child, "Seat (Enter to skip):", "")
    step(child, "Departure date (DD/MM/YYYY):", (TODAY - 2 * D).isoformat())
    step(child, "Arrival date (DD/MM/YYYY):", (TODAY + 3 * D).isoformat())
    child.expect_exact("must not be in the future")
    step(child, "Arrival date (DD/MM/YYYY):", (TODAY - 4 * D).isoformat())
    step(child, "Provinces visited in the last 14 days", "01 79")
    step(child, "Province:", "1")
    for prompt, answer in (("District:", "Ba Đình"), ("Ward or commune:", "Kim Mã"), ("House number and street:", "1 Kim Mã")):
        step(child, prompt, answer)
    for prompt in ("Fever", "Cough", "Difficulty breathing", "Sore throat", "Nausea", "Diarrhoea",
                   "Skin haemorrhage", "Skin rash", "Close contact", "affected area", "Contact with a person",
                   "live-animal market"):
        step(child, prompt, "n")
    step(child, "Chronic conditions (choose any)", "")
    step(child, "I confirm this is true", "y")
    child.expect_exact("Please correct these answers:")
    child.expect_exact("Arrival date: must not be before the departure date")
    step(child, "Arrival date (DD/MM/YYYY):", (TODAY - 1 * D).isoformat())
    child.expect_exact("Declaration summary")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    d = open_sealed(out.read_bytes(), pair.private_key)
    assert d.language == "en" and d.linkage is None  # no store given: nothing offered
    assert d.answers["id_number"] == "B1234567" and d.answers["travel_means"] == "aircraft"
    assert d.answers["arrival_date"] == (TODAY - D).isoformat()
    assert d.answers["provinces_visited"] == ["01", "79"] and d.answers["address_province"] == "01"


@pytest.fixture
def set_up_phone(tmp_path):
    """A phone set up in Vietnamese with 'bluezone init': declare must not ask the language again."""
    import subprocess

    deploy, pair = write_deployment(tmp_path)
    store = tmp_path / "lan.db"
    done = subprocess.run([BLUEZONE, "init", "--config", str(deploy), "--store", str(store), "--consent", "all",
                           "--language", "vi"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return deploy, store, tmp_path


def first_questions(child: pexpect.spawn) -> None:
    """Up to the gender question, which is answered with the label it shows."""
    step(child, "Họ và tên:", "Trần Thị Lan")
    step(child, "Năm sinh:", "1990")
    child.expect_exact("2) Nữ")
    step(child, "Giới tính:", "Nữ")  # the label as shown, not only its number


def test_declare_takes_the_phones_language_the_shown_label_and_can_be_cancelled(set_up_phone):
    deploy, store, tmp = set_up_phone
    out = tmp / "out.sealed"
    child = spawn("declare", "--config", str(deploy), "--store", str(store), "--no-submit", "--out", str(out))
    child.expect_exact("huỷ")  # the way out is said before the first question
    first_questions(child)
    step(child, "Quốc tịch [Việt Nam]:", "huỷ")
    child.expect_exact("Đã huỷ tờ khai")
    child.expect(pexpect.EOF)
    child.close()
    assert "Choose language" not in child.before and "Chưa hợp lệ" not in (child.before or "")
    assert child.exitstatus == 1 and not out.exists()
    with DeviceStore(store, create=False) as s:
        assert s.declarations() == []


def test_ctrl_d_and_refused_consent_end_cleanly(set_up_phone):
    deploy, store, tmp = set_up_phone
    out = tmp / "out.sealed"
    child = spawn("declare", "--config", str(deploy), "--store", str(store), "--no-submit", "--out", str(out))
    first_questions(child)
    child.expect_exact("Quốc tịch [Việt Nam]:")
    child.sendeof()
    child.expect_exact("Đã huỷ tờ khai")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1 and "Aborted" not in child.before and "Traceback" not in child.before
    assert not out.exists()
