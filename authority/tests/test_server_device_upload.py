"""The device side of an upload with a real device store: own keys leave the
phone only with a code, the current key is rotated first, and the published
keys are exactly the ended ones."""

from __future__ import annotations

import pytest

from bluezone.config import config_from_dict
from bluezone.models import INTERVALS_PER_DAY, day_start_interval, interval_number
from bluezone_authority.server.testing import NOW, start
from bluezone.store import DeviceStore
from bluezone.transport import TransportError, make_transport
from bluezone.upload import keys_to_upload, report_own_keys
from bluezone_authority.loopback import register_loopback, unregister_loopback


@pytest.fixture
async def running(tmp_path, server_database):
    r = await start(tmp_path / "srv")
    yield r
    await r.http.close()


async def test_report_own_keys_uploads_ended_keys_and_rotates(running, tmp_path):
    r = running
    url = register_loopback("dev", r.server)
    config = config_from_dict({"deployment": {"name": "t", "region": "452"}, "authority": {"url": url}})
    schedule = config.schedule()
    clock = [NOW - 6 * 3600]
    store = DeviceStore(tmp_path / "phone.db", clock=lambda: clock[0])
    try:
        for d in range(1, 20):  # 19 past days: the 5 oldest are outside retention
            past = NOW - d * 86400
            store.add_own_key(schedule.name, schedule.new_key(past))
        today_key = store.current_key(schedule)  # on the air since six hours ago
        clock[0] = NOW
        t = make_transport(url, config)
        with pytest.raises(TransportError):
            await report_own_keys(store, t, "00000000", config)
        assert r.server.db.counts()["exposure_keys"] == 0
        store_before = {k.key.key_data for k in store.own_keys() if k.uploaded}
        assert store_before == set()

        code = r.server.issue_code({"tier": "F0"})["code"]
        result = await report_own_keys(store, t, code, config)
        uploaded = {k.key_data for k in result.keys}
        assert today_key.key_data in uploaded  # truncated copy of today's key
        assert len(result.keys) == 15 and result.receipt.inserted == 15
        now_enin = interval_number(NOW)
        assert all(k.end_interval_number <= now_enin for k in result.keys)
        # a fresh key is on the air now and was not uploaded
        fresh = store.current_key(schedule)
        assert fresh.key_data not in uploaded and fresh.rolling_start_interval_number == now_enin
        assert {k.key.key_data for k in store.own_keys() if k.uploaded} == uploaded
    finally:
        store.close()
        unregister_loopback("dev")


def test_keys_to_upload_keeps_the_newest_thirty_ended_keys():
    from bluezone.models import ExposureKey
    today = day_start_interval(NOW)
    keys = [ExposureKey(bytes([i]) * 16, today - i * 48, 48) for i in range(0, 60)]
    out = keys_to_upload(keys, now=NOW, retention_days=14)
    assert len(out) == 30 and all(k.end_interval_number <= interval_number(NOW) for k in out)
    assert out == sorted(out, key=lambda k: k.rolling_start_interval_number)
    assert max(k.rolling_start_interval_number for k in out) == today  # ended at 08:00, before NOW
    assert INTERVALS_PER_DAY == 144


async def test_a_refused_report_changes_nothing_in_the_store(running, tmp_path):
    """A code the server refuses leaves every own-key row as it was: no early
    rotation (it would mark this phone as one that tried to report), no key
    marked uploaded, the same key still on the air."""
    r = running
    url = register_loopback("dev", r.server)
    config = config_from_dict({"deployment": {"name": "t", "region": "452"}, "authority": {"url": url}})
    schedule = config.schedule()
    clock = [NOW - 6 * 3600]
    store = DeviceStore(tmp_path / "phone.db", clock=lambda: clock[0])
    try:
        store.add_own_key(schedule.name, schedule.new_key(NOW - 86400))
        on_air = store.current_key(schedule)
        clock[0] = NOW
        rows = "SELECT schedule, rolling_start, rolling_period, uploaded, sealed FROM own_keys ORDER BY id"
        before = store.db.execute(rows).fetchall()
        t = make_transport(url, config)
        for bad in ("00000000", "not a code"):
            with pytest.raises(TransportError):
                await report_own_keys(store, t, bad, config)
        assert store.db.execute(rows).fetchall() == before
        assert store.current_key(schedule) == on_air
        await t.close()
    finally:
        store.close()
        unregister_loopback("dev")
