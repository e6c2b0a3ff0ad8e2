"""Radio simulator: physics sanity, determinism, ground truth, and the
end-to-end path (broadcast real identifiers → bleak backend → scanner →
store) for near and far phones."""

import math
import random

import pytest

from bluezone.models import ExposureKey
from bluezone.schedules.gaen import SCHEDULE, read_tx_power
from bluezone_ble.calibration import load_from_store
from bluezone_ble.evaluation import RULES, RiskRule, decide, evaluate
from bluezone_ble.sim.engine import _address, simulate, simulate_async
from bluezone_ble.sim.mobility import SCENARIOS, Static, get_scenario
from bluezone_ble.sim.radio import RadioModel, body_blocks, people_between

DAY = 1_700_006_400  # 2023-11-15 00:00 UTC
START = DAY + 8 * 3600


def own_identifiers(store):
    return {d.identifier for own in store.own_keys("gaen") for d in SCHEDULE.identifiers(own.key)}


def heard(store):
    return {s.identifier for s in store.sightings()}


# -- physics -----------------------------------------------------------------------


def test_path_loss_grows_with_distance_by_the_exponent():
    r = RadioModel(path_loss_exponent=2.0)
    assert r.mean_rssi(1.0) == pytest.approx(-59.0)
    assert r.mean_rssi(10.0) == pytest.approx(-79.0)
    assert r.mean_rssi(2.0) - r.mean_rssi(4.0) == pytest.approx(20 * math.log10(2))
    assert r.mean_rssi(0.0) == r.mean_rssi(0.1)  # no infinity at zero distance


def test_body_blocking_follows_facing():
    assert not body_blocks(0.0, 1.0, 0.0)        # other phone straight ahead
    assert body_blocks(0.0, -1.0, 0.0)           # behind the carrier
    assert not body_blocks(math.pi / 2, 0.0, 2)  # facing +y, other at +y


def test_people_in_between_are_counted():
    assert people_between(0, 0, 4, 0, [(2, 0.05), (2, 1.0), (5, 0)]) == 1


def test_scenarios_are_known_and_clear_error_otherwise():
    assert set(SCENARIOS) == {"office", "market", "bus", "home"}
    with pytest.raises(ValueError, match="choose one of: bus, home, market, office"):
        get_scenario("beach")


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_tracks_are_deterministic_and_sized(name):
    scen = get_scenario(name)
    a = scen.tracks(9, 3600, random.Random(4))
    b = scen.tracks(9, 3600, random.Random(4))
    assert [t.xs for t in a] == [t.xs for t in b] and [t.facing for t in a] == [t.facing for t in b]
    assert all(len(t.xs) == 721 for t in a)


# -- the whole simulator ----------------------------------------------------------------


def _fixed_keys(stores):
    """Give each store a known key so identifiers, too, are reproducible."""
    for i, (_, s) in enumerate(stores):
        start = DAY // 600
        s.add_own_key("gaen", ExposureKey(bytes([i + 1]) * 16, start, 144))


def _snapshot(stores):
    return [sorted((x.identifier, x.time, x.rssi, x.rssi_max, x.metadata, x.seconds_since_last_scan)
                   for x in s.sightings()) for _, s in stores]


def test_same_seed_same_world(make_store):
    runs = []
    for run in range(2):
        stores = [(f"p{i}", make_store(f"r{run}p{i}")) for i in range(6)]
        _fixed_keys(stores)
        truth = simulate("office", stores, seed=11, start_time=START, duration=3600)
        runs.append((truth.to_json(), _snapshot(stores)))
    assert runs[0] == runs[1]
    stores = [(f"p{i}", make_store(f"other{i}")) for i in range(6)]
    _fixed_keys(stores)
    truth = simulate("office", stores, seed=12, start_time=START, duration=3600)
    assert (truth.to_json(), _snapshot(stores)) != runs[0]


async def test_two_phones_together_for_20_minutes_hear_each_other(make_store):
    a, b = make_store("lan"), make_store("minh")
    devices = [("lan", a), ("minh", b)]
    truth = await simulate_async(Static([(0.0, 0.0), (1.0, 0.0)]), devices, seed=3,
                                 start_time=START, duration=20 * 60,
                                 models=[("Google", "Pixel 4"), ("Samsung", "SM-A515F")])
    assert truth.pair("lan", "minh").close_seconds == 20 * 60
    assert truth.close_pairs() == {("lan", "minh")}
    # each phone stored the other's real identifiers (and none of its own)
    assert heard(b) & own_identifiers(a) and heard(a) & own_identifiers(b)
    assert not heard(a) & own_identifiers(a)
    assert heard(b) <= own_identifiers(a)
    # the metadata decrypts to the sender's calibrated TX power
    key = a.own_keys("gaen")[0].key
    s = next(iter(b.sightings()))
    assert read_tx_power(SCHEDULE.decrypt_metadata(key.key_data, s.identifier, s.metadata)) == -28  # Pixel 4
    assert load_from_store(b).model == "SM-A515F"
    # and the default rule calls it a close contact both ways
    default = RiskRule()
    assert decide(b, SCHEDULE, [key], [default]) == [True]
    assert decide(a, SCHEDULE, [o.key for o in b.own_keys("gaen")], [default]) == [True]


async def test_two_phones_far_apart_do_not(make_store):
    a, b = make_store("lan"), make_store("hoa")
    truth = await simulate_async(Static([(0.0, 0.0), (150.0, 0.0)]), [("lan", a), ("hoa", b)],
                                 seed=3, start_time=START, duration=20 * 60)
    assert truth.close_pairs() == set() and truth.pair("lan", "hoa").min_distance_m == 150
    assert b.sighting_count() == 0 and a.sighting_count() == 0
    assert truth.stats["scans"] > 0  # they did scan: there was nothing to hear


async def test_wall_of_people_and_distance_reduce_what_is_heard(make_store):
    near = [(f"n{i}", make_store(f"n{i}")) for i in range(2)]
    far = [(f"f{i}", make_store(f"f{i}")) for i in range(2)]
    await simulate_async(Static([(0, 0), (1, 0)]), near, seed=5, start_time=START, duration=3600)
    await simulate_async(Static([(0, 0), (12, 0)]), far, seed=5, start_time=START, duration=3600)
    mean = lambda st: sum(s.rssi for _, x in st for s in x.sightings()) / sum(x.sighting_count() for _, x in st)
    assert mean(near) > mean(far) + 10


def test_addresses_rotate_with_identifiers():
    rpis = [bytes([i]) * 16 for i in range(50)]
    addresses = {_address(r) for r in rpis}
    assert len(addresses) == 50 and _address(rpis[0]) == _address(bytes(16))
    assert all(int(a[:2], 16) & 0xC0 == 0 for a in addresses)  # non-resolvable private


def test_evaluation_counts_pairs(make_store):
    stores = [(f"p{i}", make_store(f"e{i}")) for i in range(5)]
    truth = simulate("home", stores, seed=2, start_time=START, duration=3600)
    ev = evaluate(truth, stores, SCHEDULE)
    assert ev.pairs == 20 and set(ev.by_rule) == {r.name for r in RULES}
    for c in ev.by_rule.values():
        assert c.tp + c.fp + c.fn + c.tn == 20 and c.tp + c.fn == ev.positives


def _copy_store(store, folder, name):
    """A separate copy of a simulated phone's store (file and key), so each
    sender is matched against the listener's history alone."""
    import shutil

    from bluezone.store import DeviceStore
    from bluezone.store.engine import open_raw

    path = folder / f"{name}.db"
    shutil.copy(store.key_file, folder / f"{name}.key")
    source, target = open_raw(store.path, store.key_file), open_raw(path, folder / f"{name}.key")
    source.backup(target)  # the committed state, WAL included (both encrypted with the same key)
    source.close()
    target.close()
    return DeviceStore(path, key_file=folder / f"{name}.key", clock=lambda: START + 4 * 3600)


def test_evaluation_decides_as_a_real_sync_does(make_store, tmp_path):
    """The evaluation runs the phone's own pipeline: for every ordered pair,
    its answer equals what a real sync does with the sender's keys in a
    signed export (exposure stored or not), with the rule as ``[risk]``."""
    import dataclasses

    from bluezone.config import config_from_dict
    from bluezone.export import write_export
    from bluezone.matching.fixtures import deployment, new_signing_key
    from bluezone.models import PublishedBatch, ReportType
    from bluezone.sync import process_batch

    stores = [(f"p{i}", make_store(f"x{i}")) for i in range(4)]
    truth = simulate("office", stores, seed=8, start_time=START, duration=3600)  # 8 warn, 4 do not
    rule = RULES[0]
    signer, pem = new_signing_key()
    risk = {k: v for k, v in rule.to_risk().items() if k != "report_type_weights"}
    config = config_from_dict(deployment(pem, risk=risk))
    answers = []
    for sender, sstore in stores:
        keys = [dataclasses.replace(o.key, report_type=ReportType.CONFIRMED_TEST) for o in sstore.own_keys("gaen")]
        data = write_export(keys, signer, region="452", start_timestamp=START, end_timestamp=START + 4 * 3600,
                            key_id="452")
        for listener, lstore in stores:
            if sender == listener:
                continue
            [decided] = decide(lstore, SCHEDULE, keys, [rule])
            copy = _copy_store(lstore, tmp_path, f"{sender}-{listener}")
            try:
                fresh = process_batch(copy, config, PublishedBatch("keys", "b.zip", data))
            finally:
                copy.close()
            assert bool(fresh) is decided, (sender, listener)
            answers.append(decided)
    assert True in answers and False in answers  # both outcomes were exercised
    ev = evaluate(truth, stores, SCHEDULE, rules=[rule])
    assert ev.by_rule[rule.name].tp + ev.by_rule[rule.name].fp == answers.count(True)
