"""A case is not warned about its own venue visit, and a venue warning says why.

Real components: an authority server with this plugin's routes on
127.0.0.1, the ``bluezone`` console script for check-in, report, the owner's
trace upload, sync and status, real device stores. The F0 checks in at an
office, reports with an F0 code; the authority traces the office because
of that visit; the F0's own sync must not warn it (before this change it
got an F1 venue warning for the visit that caused the trace), while a
colleague who was there is warned and told the venue and the hours.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from zoneinfo import ZoneInfo

import aiohttp

from bluezone.schedules.gaen import SCHEDULE
from bluezone.store import DeviceStore

from test_end_to_end import authority_server, run  # noqa: F401  (the fixture is used by name)

OFFICE = "Sở Thông tin và Truyền thông Gia Lai"


async def status(cfg: str, phone: str) -> dict:
    code, out, err = await run("status", "--json", "--config", cfg, "--store", phone)
    assert code == 0, err
    return json.loads(out)


async def test_the_case_is_not_warned_for_the_visit_that_caused_the_trace(authority_server, tmp_path):  # noqa: F811
    a = authority_server
    cfg = str(a["device_config"])
    venue_dir = tmp_path / "venue"
    code, _, err = await run("venue", "create", "--name", OFFICE, "--address", "Pleiku, Gia Lai",
                             "--default-stay", "2h", "--out", str(venue_dir), "--config", cfg)
    assert code == 0, err
    url = (venue_dir / "entry-url.txt").read_text().strip()
    case, colleague = str(tmp_path / "case.db"), str(tmp_path / "colleague.db")
    for phone in (case, colleague):
        assert (await run("init", "--config", cfg, "--store", phone, "--language", "en", "--consent", "all"))[0] == 0
        code, _, err = await run("checkin", url, "--yes", "--store", phone, "--config", cfg)
        assert code == 0, err
    with DeviceStore(case) as store:  # yesterday's key: something ended to report
        store.current_key(SCHEDULE, int(time.time()) - 86_400)

    issued = a["server"].issue_code({"tier": "F0", "kind": "long"}, issued_by="test")
    code, out, err = await run("report", "--code", issued["code"], "--config", cfg, "--store", case)
    assert code == 0, err

    # the authority traces the office for the hours of the case's visit
    now = int(time.time())
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{a['url']}/v1/authority/one-time-tokens",
                          json={"purpose": "venue-trace", "meta": {"venue": OFFICE}},
                          headers={"Authorization": f"Bearer {a['staff']}"}) as resp:
            assert resp.status == 201
            token = (await resp.json())["token"]
    code, _, err = await run("venue", "trace", "--tracing-code", str(venue_dir / "tracing-code.bin"),
                             "--from", f"@{now - 3600}", "--to", f"@{now + 1800}", "--token", token, "--config", cfg)
    assert code == 0, err

    code, out, err = await run("sync", "--no-decoy", "--config", cfg, "--store", case)
    assert code == 0, err
    assert "0 new warnings" in out
    mine = await status(cfg, case)
    assert mine["status"] == "none" and mine["alerts"] == []
    assert mine["reported"]["tier"] == "F0"
    [info] = mine["information"]
    assert (info["source"], info["suppressed"]) == ("venue", "reported_positive")

    code, out, err = await run("sync", "--no-decoy", "--config", cfg, "--store", colleague)
    assert code == 0, err
    assert "1 new warning." in out
    theirs = await status(cfg, colleague)
    [alert] = theirs["alerts"]
    assert (alert["tier"], alert["source"], alert["state"]) == ("F1", "venue", "active")
    why = alert["why"]
    with DeviceStore(colleague) as store:
        [visit] = store.visits("venue")
    until = visit.departure if visit.departure is not None else visit.auto_checkout
    zone = ZoneInfo("Asia/Ho_Chi_Minh")  # the deployment's (default) time zone, not the machine's
    hours = f"{dt.datetime.fromtimestamp(visit.arrival, zone):%H:%M}–{dt.datetime.fromtimestamp(until, zone):%H:%M}"
    assert why["venue"] == OFFICE and why["visit_hours"] == hours
    assert why["source"] == "venue" and why["minutes_unweighted"] > 0
    code, out, _ = await run("status", "--config", cfg, "--store", colleague)
    assert f"venue: {OFFICE}" in out and f"you were there: {hours}" in out
