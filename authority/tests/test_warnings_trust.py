"""Warnings people can trust, end to end: a real ``bluezone serve`` process on
loopback, the real console script, real device stores.

* a phone that reported itself is not warned about its own chain (F0: no
  F1/F2 for the days it isolates; F1: no F2), and says so in ``status``;
* ``status --json`` says why a phone was warned (minutes, closeness,
  report type);
* a likely report confirmed later upgrades the warning; a false report is
  revoked by the reporting phone with a "negative" code and its revision
  token, and the warning it caused is withdrawn (server → export → phone);
* keys waiting for their embargo are listed with their release time.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bluezone.matching.fixtures import record_meeting
from bluezone.schedules.gaen import SCHEDULE
from bluezone.store import DeviceStore
from bluezone_authority.server.process import province_server

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
DAY = 86400


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BLUEZONE, *args], capture_output=True, text=True, env=dict(os.environ), timeout=120)


#: Alerts are read from the store (status), not printed by a console sink.
QUIET_PHONES = '\n[plugins]\ndisabled = ["alerts-console"]\nallow_missing = ["alert sink"]\n'


@pytest.fixture(scope="module")
def authority(tmp_path_factory):
    folder = tmp_path_factory.mktemp("authority")
    with province_server(folder, province_extra=QUIET_PHONES, server_extra="recursive_reports = true"):
        yield folder


class World:
    """Phones of one test, and the authority's commands."""

    def __init__(self, authority: Path, tmp: Path):
        self.cfg = str(authority / "province.toml")
        self.server = str(authority / "server.toml")
        self.tmp = tmp

    def phone(self, name: str, lang: str = "en") -> str:
        path = str(self.tmp / f"{name}.db")
        assert cli("init", "--config", self.cfg, "--store", path, "--language", lang, "--consent", "all").returncode == 0
        return path

    def code(self, *args: str) -> dict:
        out = cli("authority", "issue-code", "--config", self.server, "--long", "--json", *args)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    def report(self, phone: str, code: dict) -> subprocess.CompletedProcess:
        out = cli("report", "--config", self.cfg, "--store", phone, "--code", code["code"])
        assert out.returncode == 0, out.stderr
        return out

    def export(self) -> None:
        out = cli("authority", "export", "--config", self.server)
        assert out.returncode == 0, out.stderr

    def sync(self, phone: str) -> str:
        out = cli("sync", "--config", self.cfg, "--store", phone, "--no-decoy")
        assert out.returncode == 0, out.stderr
        return out.stdout

    def status(self, phone: str) -> dict:
        out = cli("status", "--config", self.cfg, "--store", phone, "--json")
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)


def meet(a: str, b: str, minutes: int, start: int) -> None:
    """A and B sat 1 m apart: B stores A's real identifiers every 5 minutes."""
    with DeviceStore(a) as sa, DeviceStore(b) as sb:
        record_meeting(sa, sb, minutes, start)


def both_meet(a: str, b: str, minutes: int, start: int) -> None:
    meet(a, b, minutes, start)
    meet(b, a, minutes, start)


def embargo_view(w: "World") -> dict:
    """The server's embargo list. The server is shared by this module's tests,
    so a test compares it before and after, never with an empty list: an
    earlier test can leave a key of today waiting for the next day's embargo
    (the listing test below does; so does the revision test when its two
    reports fall on either side of a 10-minute boundary, on a slow machine:
    the second sends the key the first started)."""
    out = cli("authority", "embargo", "--config", w.server, "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def days_ago(n: int) -> int:
    return int(time.time()) // DAY * DAY - n * DAY


def iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).date().isoformat()


def test_a_phone_that_reported_itself_is_not_warned_by_its_own_chain(authority, tmp_path):
    w = World(authority, tmp_path)
    lan, minh, hoa, an = w.phone("lan", "vi"), w.phone("minh"), w.phone("hoa"), w.phone("an")
    d3, d2 = days_ago(3), days_ago(2)
    both_meet(lan, minh, 40, d3 + 3 * 3600)
    both_meet(lan, hoa, 40, d3 + 5 * 3600)
    both_meet(minh, hoa, 40, d2 + 3 * 3600)  # the two contacts meet again the next day
    meet(minh, an, 40, d2 + 6 * 3600)  # a stranger to the case, who met minh: the F2 that must be warned

    report = w.report(lan, w.code("--onset", iso(d2)))
    assert "Đã gửi" in report.stdout
    w.export()
    for contact in (minh, hoa):
        assert "1 new warning." in w.sync(contact)
    # both contacts report as F1s (recursive): their keys warn their own contacts
    for contact in (minh, hoa):
        w.report(contact, w.code("--tier", "F1"))
    w.export()

    # the case: before this change it got an F2 warning from minh's and hoa's keys
    assert "0 cảnh báo mới" in w.sync(lan)
    status = w.status(lan)
    assert status["status"] == "none" and status["alerts"] == []
    reported = status["reported"]
    assert reported["tier"] == "F0" and reported["reported_on"] == iso(int(time.time()))
    assert reported["isolate_until"] == (dt.date.fromisoformat(reported["reported_on"]) + dt.timedelta(days=14)).isoformat()
    assert "ĐÃ BÁO CÁO LÀ CA BỆNH" in reported["message"] and "tự cách ly" in reported["message"]
    [info] = status["information"]
    assert (info["tier"], info["exposure_date"], info["suppressed"]) == ("F2", iso(d3), "reported_positive")
    shown = cli("status", "--config", w.cfg, "--store", lan)  # a new process: the state is on disk
    assert "ĐÃ BÁO CÁO LÀ CA BỆNH" in shown.stdout and "CẢNH BÁO F2" not in shown.stdout

    # an F1 that reported: no F2 from hoa (its own chain), its F1 warning stays
    assert "0 new warnings" in w.sync(minh)
    status = w.status(minh)
    assert [(a["tier"], a["exposure_date"], a["state"]) for a in status["alerts"]] == [("F1", iso(d3), "active")]
    assert status["reported"]["tier"] == "F1" and "REPORTED AS A CONTACT (F1)" in status["reported"]["message"]
    assert [(i["tier"], i["exposure_date"], i["suppressed"]) for i in status["information"]] == \
        [("F2", iso(d2), "reported_contact")]

    # someone who reported nothing is warned as before
    assert "1 new warning." in w.sync(an)
    status = w.status(an)
    assert status["status"] == "F2" and status["reported"] is None


def test_status_json_says_why_a_phone_was_warned(authority, tmp_path):
    w = World(authority, tmp_path)
    case, contact = w.phone("case"), w.phone("contact", "vi")
    d4 = days_ago(4)
    meet(case, contact, 25, d4 + 9 * 3600)
    w.report(case, w.code("--onset", iso(d4)))
    w.export()
    assert "1 cảnh báo mới" in w.sync(contact)
    [alert] = w.status(contact)["alerts"]
    why = alert["why"]
    assert why["source"] == "ble" and why["source_words"] == "Bluetooth"
    assert why["minutes_unweighted"] == 25.0 and why["minutes_weighted"] == 25.0  # 5 scans × 300 s, weight 1
    assert why["minutes_by_closeness"] == {"immediate": 25.0}
    assert why["closeness"] == "immediate" and why["closeness_words"] == "rất gần (suy hao ≤ 58 dB)"
    assert why["report_types"] == ["confirmed_test"]
    assert why["report_words"] == "ca bệnh xác nhận bằng xét nghiệm"
    shown = cli("status", "--config", w.cfg, "--store", contact).stdout
    assert "Vì sao: Bluetooth; 25.0 phút có trọng số (25.0 phút thực tế); khoảng cách: rất gần" in shown
    # nothing about the other person but what the key says
    assert why["from_another_province"] is False  # this province's own key (federation: docs/federation.md)
    assert set(why) == {"source", "source_words", "minutes_weighted", "minutes_unweighted", "minutes_by_closeness",
                        "closeness", "closeness_words", "report_types", "report_words", "from_another_province"}


def test_a_likely_case_confirmed_later_upgrades_the_warning(authority, tmp_path):
    w = World(authority, tmp_path)
    case, contact = w.phone("likely"), w.phone("met-likely")
    d3 = days_ago(3)
    both_meet(case, contact, 30, d3 + 10 * 3600)
    w.report(case, w.code("--report-type", "likely", "--onset", iso(d3)))
    w.export()
    assert "1 new warning." in w.sync(contact)
    [alert] = w.status(contact)["alerts"]
    assert alert["state"] == "active" and alert["why"]["report_types"] == ["confirmed_clinical_diagnosis"]

    # the test comes back positive: a new code, the same phone reports again (with its revision token)
    again = w.report(case, w.code("--report-type", "confirmed", "--onset", iso(d3)))
    assert "updated" in again.stdout
    assert "0 new warnings" in w.sync(contact)  # nothing published yet: the revision waits for an export
    w.export()
    w.sync(contact)
    status = w.status(contact)
    [alert] = status["alerts"]
    assert status["status"] == "F1" and alert["state"] == "upgraded"
    assert alert["why"]["report_types"] == ["confirmed_test"]
    assert alert["message"].startswith("UPDATE: the person you met is now confirmed by a test. F1 WARNING")


def test_a_false_report_revoked_through_the_reporting_phone_withdraws_the_warning(authority, tmp_path):
    """Staff issue a "negative" code; the case's own phone re-sends its keys
    with it and its revision token; the next export carries them as revoked
    and the contact's warning is withdrawn. The server never held a link
    from the code to the keys: only that phone could do it."""
    w = World(authority, tmp_path)
    case, contact = w.phone("false-positive"), w.phone("met-false", "vi")
    d2 = days_ago(2)
    meet(case, contact, 30, d2 + 8 * 3600)
    w.report(case, w.code("--onset", iso(d2)))  # confirmed by a test that later proves false
    w.export()
    assert "1 cảnh báo mới" in w.sync(contact)
    assert w.status(contact)["status"] == "F1"
    assert w.status(case)["reported"]["tier"] == "F0"

    negative = w.code("--report-type", "negative")
    assert negative["reportType"] == 5  # REVOKED, as the certificate will carry it
    done = w.report(case, negative)
    assert "withdrawn" in done.stdout and "revoked" in done.stdout
    own = w.status(case)
    assert own["reported"] is None and own["report_revoked_on"] == iso(int(time.time()))
    w.export()
    w.sync(contact)
    status = w.status(contact)
    [alert] = status["alerts"]
    assert status["status"] == "none" and alert["state"] == "withdrawn"
    assert alert["message"].startswith("ĐÃ RÚT LẠI CẢNH BÁO F1") and "không cần tự cách ly" in alert["message"]
    shown = cli("status", "--config", w.cfg, "--store", contact).stdout
    assert "ĐÃ RÚT LẠI" in shown and "CẢNH BÁO F1: Ngày" not in shown


def test_a_revoking_code_on_a_phone_that_never_reported_sends_nothing(authority, tmp_path):
    w = World(authority, tmp_path)
    phone, other = w.phone("never-reported"), w.phone("other")
    meet(phone, other, 10, days_ago(2) + 8 * 3600)
    before = w.status(phone)
    waiting = {k: embargo_view(w)[k] for k in ("embargoed", "readyForNextExport")}
    out = cli("report", "--config", w.cfg, "--store", phone, "--code", w.code("--report-type", "negative")["code"])
    assert out.returncode == 1 and "no report to withdraw" in out.stderr
    assert out.stderr.strip().count("\n") == 1  # the progress line, then the one-line refusal
    assert w.status(phone) == before
    after = embargo_view(w)
    assert {k: after[k] for k in waiting} == waiting  # the server got no key


def test_keys_waiting_for_their_embargo_are_listed_with_their_release_time(authority, tmp_path):
    w = World(authority, tmp_path)
    phone = w.phone("today")
    now = int(time.time())
    release_at = now // 86400 * 86400 + 86400 + 7200
    with DeviceStore(phone) as store:
        store.current_key(SCHEDULE, now - 1800)  # today's key, on the air until the report rotates it
    held = {e["availableAt"]: e["keys"] for e in embargo_view(w)["embargoed"]}.get(release_at, 0)
    w.report(phone, w.code())
    out = cli("authority", "embargo", "--config", w.server, "--json")
    assert out.returncode == 0, out.stderr
    view = json.loads(out.stdout)
    assert view["embargoHours"] == 2
    releases = [e["availableAt"] for e in view["embargoed"]]
    # today's key is held to the end of its UTC day, then waits the 2 h embargo
    assert now // 86400 * 86400 + 86400 + 7200 in releases, releases
    text = cli("authority", "embargo", "--config", w.server).stdout
    # in the deployment's first language (Vietnamese here), with the release time
    release = dt.datetime.fromtimestamp(release_at, dt.timezone.utc)
    assert f"{held + 1} khoá được công bố từ {release:%Y-%m-%d %H:%M} UTC" in text
