"""The store's records read back as they were written, and its writes say what they did.

Sightings by row id, visits, exposures and alerts (and the True/False their
writes return), own reports, exposure windows, contribution claims, processed batches, sync
state, kept declarations, and the purge: each table's cut-off, to the
second, day or interval, the counts it returns, and a purge inside a
caller's transaction.

Why a file of its own: mutation testing of ``store/device.py`` found reads
that took a neighbouring column (a visit's source as its arrival, an
exposure's minutes as its score, a report's tier as its type, a window's day
as its tier) and no test noticed, because the values written were equal or
never read back. Here every value is chosen to differ from its neighbours, so
a read of the wrong column fails, and every record is compared whole.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

from bluezone.models import Alert, Exposure, ExposureKey, Sighting, Tier, Visit
from bluezone.privacy import mydata
from bluezone.store import DeviceStore
from bluezone.store.device import RETENTION

NOW = 1_795_000_000  # a fixed "now" so retention is deterministic
DAY = 86_400
DAY_20 = dt.date(2026, 11, 20)
DAY_21 = dt.date(2026, 11, 21)


def open_store(tmp_path: Path, clock: dict[str, int] | None = None, **kw: Any) -> DeviceStore:
    """A real (SQLCipher) store file in ``tmp_path``; ``clock["now"]`` is its time when given."""
    clock = clock if clock is not None else {"now": NOW}
    return DeviceStore(tmp_path / "device.db", key_file=tmp_path / "keys" / "device.key",
                       clock=lambda: clock["now"], **kw)


def alert_of(exposure: Exposure, messages: dict[str, str], state: str = "active") -> Alert:
    return Alert(exposure.exposure_id, exposure.tier, exposure.source, exposure.date, NOW - 50,
                 exposure.date + dt.timedelta(days=14), messages, state)


# -- sightings ---------------------------------------------------------------------------


def test_sightings_by_row_id_read_back_every_field_of_the_rows_asked_for(tmp_path):
    """The matcher indexes identifiers and times only and reads the rows it
    hits by id: each must come back whole, under its own id."""
    store = open_store(tmp_path)
    written = [Sighting(b"a" * 16, NOW - 900, -71, b"\x0a\x0b\x0c\x0d", -64, 180, "ble", -12),
               Sighting(b"b" * 16, NOW - 600, -55, b"\x01\x02\x03\x04", -49, 240, "sim", 4),
               Sighting(b"c" * 16, NOW - 300, -80, b"", -77, None, "ble", None)]
    store.add_sightings(written)
    ids = [r[0] for r in store.db.execute("SELECT id FROM sightings ORDER BY time")]
    found = dict(store.sightings_by_rowid([ids[2], ids[0], max(ids) + 1000]))  # an id no longer stored: skipped
    assert found == {ids[0]: written[0], ids[2]: written[2]}
    assert dict(store.sightings_by_rowid(ids)) == dict(zip(ids, written, strict=True))
    assert list(store.sightings_by_rowid([])) == []
    assert store.sighting_count() == 3
    store.close()


# -- visits ----------------------------------------------------------------------------


def test_a_visit_reads_back_every_field_in_arrival_order_and_by_source(tmp_path):
    store = open_store(tmp_path)
    late = Visit("v-late", "qr", NOW - 3000, NOW - 1000, b"Pho 24, Le Loi", NOW - 900)
    early = Visit("v-early", "qr", NOW - 9000, None, b"Cafe Phuong")
    other = Visit("v-venue", "venue", NOW - 6000, NOW - 5000, b"\x00\x01")
    for visit in (late, early, other):
        store.save_visit(visit)
    assert store.visits() == [early, other, late]  # arrival, departure, auto-checkout each in place
    assert store.visits("qr") == [early, late]
    checked_out = Visit("v-early", "qr", NOW - 9000, NOW - 8000, b"Cafe Phuong")
    store.save_visit(checked_out)  # a checkout saves the same visit again: replaced, not added
    assert store.visits("qr") == [checked_out, late]
    store.delete_visit("v-late")
    assert store.visits() == [checked_out, other]
    store.close()


# -- exposures and alerts ---------------------------------------------------------------


def test_an_exposure_reads_back_its_score_minutes_and_details_and_is_new_only_once(tmp_path):
    store = open_store(tmp_path)
    f2 = Exposure(Tier.F2, "ble", DAY_21, score=812.5, minutes=23.25, details={"level": "high", "windows": 3})
    f1 = Exposure(Tier.F1, "ble", DAY_21, score=1300.0, minutes=41.5)
    earlier = Exposure(Tier.F1, "venue", DAY_20, score=77.0, minutes=9.0, details={"venue": "hidden"})
    assert [store.add_exposure(e) for e in (f1, f2, earlier)] == [True, True, True]
    assert store.add_exposure(f2) is False  # the same exposure found again (a re-run sync)
    assert store.exposures() == [earlier, f2, f1]  # by day, then tier (F2 < F1)
    rescored = Exposure(Tier.F2, "ble", DAY_21, score=901.0, minutes=30.75, details={"level": "high", "windows": 4})
    store.replace_exposure(rescored)
    assert store.exposures() == [earlier, rescored, f1]
    store.delete_exposure(f1.exposure_id)
    assert store.exposures() == [earlier, rescored]
    store.close()


def test_alert_writes_return_whether_they_changed_an_alert(tmp_path):
    store = open_store(tmp_path)
    first = Exposure(Tier.F1, "ble", DAY_20)
    second = Exposure(Tier.F2, "ble", DAY_21)
    warned = alert_of(first, {"en": "You were in close contact", "vi": "Bạn đã tiếp xúc gần"})
    other = alert_of(second, {"en": "A contact of a contact", "vi": "Tiếp xúc với F1"})
    assert store.add_alert(warned) is True and store.add_alert(other) is True
    assert store.add_alert(warned) is False  # once per exposure
    store.mark_alert_delivered(first.exposure_id)
    assert store.alerts(undelivered_only=True) == [other]  # only the one marked was delivered

    withdrawn_words = {"en": "The warning was withdrawn", "vi": "Cảnh báo đã được rút lại"}
    assert store.change_alert(first.exposure_id, "withdrawn", withdrawn_words) is True
    assert store.change_alert("no-such-exposure", "withdrawn", withdrawn_words) is False
    changed = dataclasses.replace(warned, messages=withdrawn_words, state="withdrawn")
    assert store.alerts() == [changed, other]
    assert store.alerts(undelivered_only=True) == [changed, other]  # delivered again: the person learns of it

    # A new key warns again about a withdrawn exposure: the alert is replaced and new.
    again = dataclasses.replace(warned, created_at=NOW, messages={"en": "Warned again", "vi": "Cảnh báo lại"})
    assert store.add_alert(again) is True
    assert store.alerts() == [again, other]
    store.close()


def test_alert_words_stay_readable_text_in_the_my_data_export(tmp_path):
    """The person's export shows the stored text as it is: Vietnamese words,
    not ``\\u`` escapes, for a new alert and for one changed later."""
    store = open_store(tmp_path)
    first, second = Exposure(Tier.F1, "ble", DAY_20), Exposure(Tier.F2, "ble", DAY_21)
    store.add_alert(alert_of(first, {"vi": "Bạn đã tiếp xúc gần"}))
    store.add_alert(alert_of(second, {"vi": "Tiếp xúc với F1"}))
    store.change_alert(second.exposure_id, "upgraded", {"vi": "Ca bệnh đã được xác nhận"})
    rows = {r["exposure_id"]: r for r in mydata.export(store, "vn")["tables"]["alerts"]}
    assert "Bạn đã tiếp xúc gần" in rows[first.exposure_id]["messages"]
    assert "Ca bệnh đã được xác nhận" in rows[second.exposure_id]["messages"]
    assert json.loads(rows[second.exposure_id]["messages"]) == {"vi": "Ca bệnh đã được xác nhận"}
    store.close()


# -- own reports ----------------------------------------------------------------------


def test_own_reports_read_back_every_field_oldest_first(tmp_path):
    store = open_store(tmp_path)
    store.add_own_report(reported_at=NOW - 100, report_type=1, tier=Tier.F0, isolate_until=dt.date(2026, 12, 1),
                         keys=14, revision_token="rev_later")
    store.add_own_report(reported_at=NOW - 5000, report_type=2, tier=Tier.F1, isolate_until=dt.date(2026, 11, 28),
                         keys=5)
    store.add_own_report(reported_at=NOW - 100, report_type=4, tier=Tier.F2, isolate_until=dt.date(2026, 12, 2),
                         keys=3, revision_token="rev_same_second")
    assert store.own_reports() == [
        {"reported_at": NOW - 5000, "report_type": 2, "tier": Tier.F1, "isolate_until": dt.date(2026, 11, 28),
         "keys": 5, "revision_token": ""},
        {"reported_at": NOW - 100, "report_type": 1, "tier": Tier.F0, "isolate_until": dt.date(2026, 12, 1),
         "keys": 14, "revision_token": "rev_later"},
        {"reported_at": NOW - 100, "report_type": 4, "tier": Tier.F2, "isolate_until": dt.date(2026, 12, 2),
         "keys": 3, "revision_token": "rev_same_second"},  # same second: in the order they were made
    ]
    store.close()


# -- exposure windows -------------------------------------------------------------------


def test_exposure_windows_keep_day_tier_text_and_key_tag(tmp_path):
    store = open_store(tmp_path)
    untagged = ("2026-11-20", Tier.F1, '{"w": "untagged"}')  # the 3-tuple form: no key tag
    tagged = [("2026-11-21", 1, '{"w": "a"}', b"tag-of-key-1"), ("2026-11-22", Tier.F1, '{"w": "b"}', b"tag-of-key-1"),
              ("2026-11-21", 2, '{"w": "c"}', b"tag-of-key-2")]
    assert store.add_exposure_windows("keys", "batch-1", [untagged, *tagged]) == 4
    assert store.add_exposure_windows("keys", "batch-2", []) == 0
    assert store.exposure_windows(["2026-11-21", "2026-11-20", "2026-11-21"]) == [
        ("2026-11-20", 2, '{"w": "untagged"}'), ("2026-11-21", 1, '{"w": "a"}'), ("2026-11-21", 2, '{"w": "c"}')]
    assert store.exposure_windows([]) == [] and store.exposure_windows(["2026-11-19"]) == []
    of_key_1 = store.windows_of_key(b"tag-of-key-1")
    assert [(day, tier, text) for _id, day, tier, text in of_key_1] == [
        ("2026-11-21", 1, '{"w": "a"}'), ("2026-11-22", 2, '{"w": "b"}')]
    assert [w[1:] for w in store.windows_of_key(b"tag-of-key-2")] == [("2026-11-21", 2, '{"w": "c"}')]
    assert store.windows_of_key(b"tag-of-no-key") == []
    # The untagged window is found by day only, never under a key's tag.
    assert [w[3] for w in store.db.execute("SELECT day, tier, window, key_tag FROM exposure_windows")] == [
        None, b"tag-of-key-1", b"tag-of-key-1", b"tag-of-key-2"]

    # A revised key rewrites its windows by id; a revoked one deletes them: only those rows change.
    (id_a, *_), (id_b, *_) = of_key_1
    store.rewrite_window(id_a, 2, '{"w": "a, now F1"}')
    store.delete_window(id_b)
    assert [w[1:] for w in store.windows_of_key(b"tag-of-key-1")] == [("2026-11-21", 2, '{"w": "a, now F1"}')]
    assert store.exposure_windows(["2026-11-20", "2026-11-21", "2026-11-22"]) == [
        ("2026-11-20", 2, '{"w": "untagged"}'), ("2026-11-21", 2, '{"w": "a, now F1"}'),
        ("2026-11-21", 2, '{"w": "c"}')]
    store.close()


# -- contributions, batches, sync state ------------------------------------------------------


def test_a_contribution_is_claimed_once_across_calls_and_reopens(tmp_path):
    store = open_store(tmp_path)
    t1, t2, t3 = (store.contribution_tag(m) for m in (b"key-1|interval-5", b"key-1|interval-6", b"key-2|interval-5"))
    assert store.contribution_tag(b"key-1|interval-5") == t1 and len({t1, t2, t3}) == 3
    assert store.claim_contributions([(t1, "2026-11-20"), (t2, "2026-11-20"), (t1, "2026-11-20")]) == {t1, t2}
    assert store.claim_contributions([(t1, "2026-11-20"), (t3, "2026-11-21")]) == {t3}
    assert store.claim_contributions([]) == set()
    store.close()
    reopened = open_store(tmp_path)
    assert reopened.contribution_tag(b"key-1|interval-5") == t1  # same key file, same tag
    assert reopened.claim_contributions([(t1, "2026-11-20"), (t2, "2026-11-20"), (t3, "2026-11-21")]) == set()
    reopened.close()


def test_a_batch_is_known_by_feed_and_content_never_by_name(tmp_path):
    store = open_store(tmp_path)
    assert store.batch_processed("keys", "c0ffee") is False
    store.mark_batch_processed("keys", "c0ffee", "2026-11-20.zip")
    store.mark_batch_processed("keys", "c0ffee", "renamed.zip")  # the same content again: no error, one row
    assert store.batch_processed("keys", "c0ffee") is True
    assert store.batch_processed("keys", "decaf") is False
    assert store.batch_processed("venues", "c0ffee") is False
    assert store.db.execute("SELECT name FROM processed_batches").fetchall() == [("2026-11-20.zip",)]
    store.close()


def test_sync_state_is_kept_per_feed_and_empty_until_written(tmp_path):
    store = open_store(tmp_path)
    assert store.get_sync_state("keys") == {}
    store.set_sync_state("keys", {"etag": '"v1"', "seen": ["a.zip", "b.zip"]})
    store.set_sync_state("venues", {"etag": None, "seen": []})
    store.set_sync_state("keys", {"etag": '"v2"', "seen": ["a.zip", "b.zip", "c.zip"]})
    assert store.get_sync_state("keys") == {"etag": '"v2"', "seen": ["a.zip", "b.zip", "c.zip"]}
    assert store.get_sync_state("venues") == {"etag": None, "seen": []}
    store.close()


# -- declarations ---------------------------------------------------------------------


def test_declarations_get_new_row_ids_and_read_back_oldest_first(tmp_path):
    store = open_store(tmp_path)
    first = store.add_declaration(b'{"full_name": "Nguyen Van A"}', created_at=NOW - 100)
    second = store.add_declaration(b'{"full_name": "Tran Thi B"}')  # made now
    third = store.add_declaration(b'{"full_name": "Le Van C"}', created_at=NOW - 900)
    assert len({first, second, third}) == 3
    assert store.declarations() == [(third, NOW - 900, b'{"full_name": "Le Van C"}'),
                                    (first, NOW - 100, b'{"full_name": "Nguyen Van A"}'),
                                    (second, NOW, b'{"full_name": "Tran Thi B"}')]
    store.close()


# -- retention -------------------------------------------------------------------------


def _one_each_side_of(store: DeviceStore, clock: dict[str, int], cutoff: int) -> None:
    """For every purged table, one row just past the cut-off and one just inside it."""
    day = dt.datetime.fromtimestamp(cutoff, dt.timezone.utc).date()
    day_before = day - dt.timedelta(days=1)
    interval = cutoff // 600
    store.add_sightings([Sighting(b"o" * 16, cutoff - 1, -60, source="ble"), Sighting(b"k" * 16, cutoff, -61, source="ble")])
    # A key ends (start + period) at the cut-off interval: gone; one interval later: kept.
    store.add_own_key("gaen", ExposureKey(b"O" * 16, interval - 50, 50))
    store.add_own_key("gaen", ExposureKey(b"K" * 16, interval - 50, 51))
    store.save_visit(Visit("gone", "qr", cutoff - 1, None))  # open visit: its arrival counts
    store.save_visit(Visit("kept", "qr", cutoff - 7200, cutoff))  # left at the cut-off: its departure counts
    clock["now"] = cutoff - 1
    store.add_declaration(b"old")
    store.mark_batch_processed("keys", "old-content")
    store.set_sync_state("old-feed", {"etag": None, "seen": []})
    clock["now"] = cutoff
    store.add_declaration(b"new")
    store.mark_batch_processed("keys", "new-content")
    store.set_sync_state("new-feed", {"etag": None, "seen": []})
    for date in (day_before, day):
        exposure = Exposure(Tier.F1, "ble", date, 900.0, 20.0)
        store.add_exposure(exposure)
        store.add_alert(alert_of(exposure, {"en": f"contact on {date}"}))
        store.add_exposure_windows("keys", "b", [(date.isoformat(), 2, "{}")])
        store.claim_contributions([(store.contribution_tag(date.isoformat().encode()), date.isoformat())])
        store.add_own_report(reported_at=cutoff - 30 * DAY, report_type=1, tier=3, isolate_until=date, keys=1)


def _kept(store: DeviceStore) -> dict[str, Any]:
    return {
        "sightings": [s.identifier for s in store.sightings()],
        "own_keys": [k.key.key_data for k in store.own_keys()],
        "visits": [v.visit_id for v in store.visits()],
        "declarations": [d[2] for d in store.declarations()],
        "processed": [store.batch_processed("keys", c) for c in ("old-content", "new-content")],
        "sync_state": [f for f in ("old-feed", "new-feed") if store.get_sync_state(f)],
        "exposures": [e.date for e in store.exposures()],
        "alerts": [a.exposure_date for a in store.alerts()],
        "windows": len(store.db.execute("SELECT id FROM exposure_windows").fetchall()),
        "contributions": len(store.db.execute("SELECT tag FROM matched_contributions").fetchall()),
        "own_reports": [r["isolate_until"] for r in store.own_reports()],
    }


def test_purge_cuts_each_table_at_its_own_cutoff_and_counts_what_it_deleted(tmp_path):
    clock = {"now": NOW}
    store = open_store(tmp_path, clock, retention_days=14)
    cutoff = NOW - 14 * DAY
    _one_each_side_of(store, clock, cutoff)
    clock["now"] = NOW
    day = dt.datetime.fromtimestamp(cutoff, dt.timezone.utc).date()
    counts = store.purge()
    # Every table purged by age lost exactly its row past the cut-off; bounded ones are not purged.
    assert counts == {table: 1 for table, rule in RETENTION.items() if rule.sql}
    assert _kept(store) == {
        "sightings": [b"k" * 16], "own_keys": [b"K" * 16], "visits": ["kept"], "declarations": [b"new"],
        "processed": [False, True], "sync_state": ["new-feed"], "exposures": [day], "alerts": [day],
        "windows": 1, "contributions": 1, "own_reports": [day],
    }
    assert store.purge() == {table: 0 for table, rule in RETENTION.items() if rule.sql}  # nothing more to do
    store.close()


def test_purge_at_a_given_time_and_with_another_retention(tmp_path):
    """``purge(now)`` cuts at the time given (a sync passes its own), not the
    clock's; the window is the store's ``retention_days``."""
    clock = {"now": NOW}
    store = open_store(tmp_path, clock, retention_days=3)
    store.add_sightings([Sighting(b"4" * 16, NOW - 4 * DAY, -60, source="ble"),
                         Sighting(b"2" * 16, NOW - 2 * DAY, -60, source="ble"),
                         Sighting(b"0" * 16, NOW, -60, source="ble")])
    assert store.purge()["sightings"] == 1
    assert [s.identifier for s in store.sightings()] == [b"2" * 16, b"0" * 16]
    assert store.purge(now=NOW + 2 * DAY)["sightings"] == 1  # the clock still says NOW
    assert [s.identifier for s in store.sightings()] == [b"0" * 16]
    store.close()


def test_a_purge_that_deleted_rows_empties_the_wal(tmp_path):
    """The deleted rows' old page images must not stay behind in the WAL: a
    purge that deleted something folds it into the file and truncates it."""
    store = open_store(tmp_path)
    store.add_sightings([Sighting(bytes([n]) * 16, NOW - 20 * DAY + n, -60, source="ble") for n in range(40)])
    wal = store.path.with_name(store.path.name + "-wal")
    assert wal.stat().st_size > 0
    assert store.purge()["sightings"] == 40
    assert wal.stat().st_size == 0
    store.close()


def test_a_purge_inside_a_callers_transaction_deletes_and_commits_with_it(tmp_path):
    """``purge`` joins a transaction already open (as every write does): it
    deletes, counts, and leaves the WAL checkpoint for later, which SQLite
    refuses inside a transaction ("database table is locked")."""
    store = open_store(tmp_path)
    store.add_sightings([Sighting(b"o" * 16, NOW - 20 * DAY, -60, source="ble"),
                         Sighting(b"k" * 16, NOW, -60, source="ble")])
    with store.transaction():
        assert store.purge()["sightings"] == 1
        store.set_meta("last_purge", str(NOW))
    store.close()
    reopened = open_store(tmp_path, purge_on_open=False)
    assert [s.identifier for s in reopened.sightings()] == [b"k" * 16]
    assert reopened.get_meta("last_purge") == str(NOW)
    reopened.close()
