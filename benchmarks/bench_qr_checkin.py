"""Venue check-in costs: check-in, and matching per stored record and per published trace.

Baseline measured in the same run: one BLS12-381 pairing (pymcl), the native
floor of a match attempt (a record is tried with one pairing plus hashing and
a secretbox). CrowdNotifier reports 1–5 ms per match on phones.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import nacl.public


def _per_call(fn, n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n


def main() -> None:
    from bluezone.store import DeviceStore
    from bluezone_qr_checkin import checkin, records, tracing
    from bluezone_qr_checkin import venue as vmod
    from bluezone_qr_checkin.matching import match_traces
    from bluezone_qr_checkin.mcl import G1, g2, pairing
    from bluezone_qr_checkin.proto import crowdnotifier_pb2 as pb
    from bluezone_qr_checkin.payload import parse_payload

    ha = nacl.public.PrivateKey.generate()
    now = int(time.time())
    venues = [vmod.create_venue(vmod.VenueSpec(f"Quán {i}", "Pleiku"), bytes(ha.public_key), now=now) for i in range(8)]
    infos = [parse_payload(v.payload, now=now) for v in venues]

    p = G1.hash(b"bench")
    pair = _per_call(lambda: pairing(p, g2), 200)
    enc_1h = _per_call(lambda: records.encrypt_visit(infos[0], now, now + 600), 50)

    with tempfile.TemporaryDirectory() as d:
        clock_t = [now]
        store = DeviceStore(Path(d) / "bench.db", key_file=Path(d) / "k", clock=lambda: clock_t[0])
        t = time.perf_counter()
        n_checkins = 40
        for i in range(n_checkins):  # 40 visits of 2 h (3 records each) over ~5 days
            clock_t[0] = now - 5 * 86_400 + i * 3 * 3600
            checkin.check_in(store, infos[i % len(infos)])
        checkin_cost = (time.perf_counter() - t) / n_checkins
        n_records = sum(len(checkin.VisitData.from_bytes(v.data).records) for v in store.visits("venue"))
        clock_t[0] = now

        code = pb.QRCodeTrace()
        code.ParseFromString(venues[-1].tracing_code)
        # a trace of a venue not visited in the window: the phone tries every record (worst case)
        other = vmod.create_venue(vmod.VenueSpec("Không ai đến", "Pleiku"), bytes(ha.public_key), now=now)
        oc = pb.QRCodeTrace()
        oc.ParseFromString(other.tracing_code)
        traces = tracing.authority_traces(tracing.owner_pretraces(oc, now - 5 * 86_400, now - 5 * 86_400 + 1800),
                                          bytes(ha), "x").traces[:1]
        traces[0].startTime, traces[0].endTime = now - 6 * 86_400, now  # window covering every stored visit
        t = time.perf_counter()
        match_traces(traces, store)
        per_trace = time.perf_counter() - t
        per_record = per_trace / n_records
        # a realistic published batch: 24 traces of one-hour windows, against the same store
        day = tracing.authority_traces(tracing.owner_pretraces(code, now - 86_400, now - 3600), bytes(ha), "x").traces
        t = time.perf_counter()
        hits = match_traces(list(day), store)
        batch_time = time.perf_counter() - t
        store.close()

    print("QR check-in (CrowdNotifier v3, pymcl BLS12-381)")
    print(f"  baseline: one pairing                     {pair * 1e3:8.3f} ms")
    print(f"  encrypt one hourly record                 {enc_1h * 1e3:8.3f} ms  ({enc_1h / pair:.1f}× a pairing)")
    print(f"  check-in (2 h stay, 3 records, stored)    {checkin_cost * 1e3:8.3f} ms  ({checkin_cost / pair:.1f}× a pairing)")
    print(f"  match per stored record (non-matching)    {per_record * 1e3:8.3f} ms  ({per_record / pair:.2f}× a pairing;"
          f" CrowdNotifier on phones: 1–5 ms)")
    print(f"  match per published trace ({n_records} records)   {per_trace * 1e3:8.3f} ms")
    print(f"  batch of {len(day)} one-hour traces vs store  {batch_time * 1e3:8.1f} ms "
          f"({batch_time / len(day) * 1e3:.2f} ms per trace, {len(hits)} hits; only overlapping visits tried)")


if __name__ == "__main__":
    main()
