"""The public key export says nothing about how many people reported, or when.

Phones with real device stores report through the http transport to a real
server at different times of one afternoon, each rotating today's key early
as ``bluezone report`` does. The exports are then read back as any phone
reads them, and compared with a world where only one person reported: the
files must look alike in every field, and none may hold a partial-day key
(whose end would be the moment of an upload).
"""

from __future__ import annotations

from typing import Any

from bluezone.config import config_from_dict
from bluezone.export.reader import read_export
from bluezone.models import DAY_SECONDS, INTERVALS_PER_DAY, ExposureKey, day_start_interval
from bluezone.store import DeviceStore
from bluezone.transports import HttpTransport
from bluezone.upload import report_own_keys
from bluezone_authority.server.testing import NOW, start

MIDNIGHT = NOW - NOW % DAY_SECONDS  # today began; NOW is 20:26 UTC
ONSET = "2026-05-25"  # every reporter's symptom onset, so the worlds differ only in how many reported
MIN_KEYS, SPREAD = 1000, 100  # the defaults of [server]


async def report(r: Any, tmp_path, n: int, at: int) -> set[bytes]:
    """One phone: 14 full past days and today's key since 14:26, reporting at ``at``."""
    config = config_from_dict({"deployment": {"name": "t", "region": "452"}, "authority": {"url": r.url}})
    schedule = config.schedule()
    clock = [NOW - 6 * 3600]
    store = DeviceStore(tmp_path / f"phone{n}.db", clock=lambda: clock[0])
    try:
        for d in range(1, 15):
            store.add_own_key(schedule.name, schedule.new_key(MIDNIGHT - d * DAY_SECONDS))
        store.current_key(schedule)  # on the air since mid-afternoon
        clock[0] = r.clock.t = at
        code = r.server.issue_code({"tier": "F0", "symptomOnsetDate": ONSET})["code"]
        async with HttpTransport(r.url, retries=0) as t:
            result = await report_own_keys(store, t, code, config)
        assert any(k.rolling_period < INTERVALS_PER_DAY for k in result.keys)  # today's, cut short
        return {k.key_data for k in result.keys}
    finally:
        store.close()


async def world(tmp_path, reporters: int) -> tuple[list[list[ExposureKey]], set[bytes]]:
    """Every exported batch's keys after ``reporters`` people reported, and the real keys."""
    r = await start(tmp_path, min_batch_keys=MIN_KEYS, pad_random_keys=SPREAD)
    try:
        real: set[bytes] = set()
        for n in range(reporters):
            real |= await report(r, tmp_path, n, NOW - 3 * 3600 + n * 1700)
        r.clock.t = NOW  # this evening's batch
        r.server.export_now()
        r.clock.t = MIDNIGHT + DAY_SECONDS + 2 * 3600 + 60  # after the day and its embargo
        r.server.export_now()
        index, _ = r.server.feed_index("keys")
        public = r.server.keys.export_key.public_key()
        batches = [read_export(r.server.feed_file("keys", name) or b"", [public]).keys for name in index.split()]
        return batches, real
    finally:
        await r.http.close()


def looks(keys: list[ExposureKey]) -> dict[str, Any]:
    """Everything a reader of a file sees, but the count and the key bytes."""
    return {"periods": {k.rolling_period for k in keys},
            "misaligned": sum(k.rolling_start_interval_number % INTERVALS_PER_DAY != 0 for k in keys),
            "days": {k.rolling_start_interval_number for k in keys},
            "report types": {k.report_type for k in keys},
            "risks": {k.transmission_risk_level for k in keys},
            "onsets": {k.days_since_onset_of_symptoms for k in keys}}


async def test_three_reporters_look_like_one(tmp_path):
    three, real3 = await world(tmp_path / "three", 3)
    one, real1 = await world(tmp_path / "one", 1)
    today = day_start_interval(MIDNIGHT)
    assert len(three) == len(one) == 2
    evening, after_midnight = three
    # today's keys wait for the end of today: the evening's file has none of them
    assert today not in {k.rolling_start_interval_number for k in evening}
    assert {k.rolling_start_interval_number for k in after_midnight} == {today}
    for batch3, batch1 in zip(three, one):
        assert looks(batch3) == looks(batch1)
        assert looks(batch3)["periods"] == {INTERVALS_PER_DAY} and looks(batch3)["misaligned"] == 0
        assert MIN_KEYS <= len(batch3) <= MIN_KEYS + SPREAD and MIN_KEYS <= len(batch1) <= MIN_KEYS + SPREAD
    assert sum(len(b) for b in three) > len(real3)


async def test_padding_keys_cannot_be_told_from_real_ones_by_any_field(tmp_path):
    batches, real = await world(tmp_path, 3)
    for keys in batches:
        reals = [k for k in keys if k.key_data in real]
        fakes = [k for k in keys if k.key_data not in real]
        assert reals and len(fakes) > 10 * len(reals)
        assert looks(fakes) == looks(reals)
        # each day is as common among fakes as among real keys (within a wide margin)
        for day in looks(reals)["days"]:
            share_real = sum(k.rolling_start_interval_number == day for k in reals) / len(reals)
            share_fake = sum(k.rolling_start_interval_number == day for k in fakes) / len(fakes)
            assert abs(share_real - share_fake) < 0.045, (day, share_real, share_fake)  # 5 sigma
