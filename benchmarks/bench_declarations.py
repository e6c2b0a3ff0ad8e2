"""Declarations: what sealing, validating and the authority's opening cost.

Figures (per declaration, this machine, same run):
* validate the full NCOVI form vs a baseline ``json.loads`` of the same answers;
* seal (pad to 4 KiB + crypto_box_seal) vs a baseline crypto_box_seal of the
  unpadded JSON — the price of padding;
* open + parse on the authority's side; refusing a 60,000-deep JSON sealed
  to the public key (depth scan before parsing); triage + CSV export of 2,000
  declarations (a busy day for a province) vs the bare sealed-box opens.
Sizes: sealed bytes for a short and a long declaration (equal by design).
"""

from __future__ import annotations

import io
import json
import struct
import time
from pathlib import Path

import nacl.public

from bluezone.declarations import KeyPair, make_declaration, open_sealed, seal
from bluezone.declarations.fixtures import TODAY, good_answers
from bluezone_authority.declarations import Opened, SealedItem, open_item, triage, write_csv  # noqa: E402
from bluezone.declarations.declaration import MAGIC, PAD_BLOCK  # noqa: E402
from bluezone.declarations.sealing import seal_plaintext  # noqa: E402
from bluezone.declarations.ncovi_form import ncovi_form  # noqa: E402


def per_op(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def main() -> None:
    form = ncovi_form()
    pair = KeyPair.generate()
    pk, sk = pair.private_key.public_key, pair.private_key
    answers = good_answers()
    raw = json.dumps(answers, ensure_ascii=False)
    d = make_declaration(form, answers, today=TODAY)

    t_json = per_op(lambda: json.loads(raw), 2000)
    t_valid = per_op(lambda: form.validate(answers, today=TODAY), 2000)
    print(f"validate full form:      {t_valid * 1e6:8.1f} µs   (json.loads baseline {t_json * 1e6:.1f} µs, ×{t_valid / t_json:.1f})")

    box = nacl.public.SealedBox(pk)
    body = d.to_json()
    t_bare = per_op(lambda: box.encrypt(body), 2000)
    t_seal = per_op(lambda: seal(d, pk), 2000)
    print(f"seal (padded 4 KiB):     {t_seal * 1e6:8.1f} µs   (bare sealed box of {len(body)} B JSON {t_bare * 1e6:.1f} µs, ×{t_seal / t_bare:.2f})")

    short = make_declaration(form, good_answers(travel_means="none", vehicle_number=..., seat=..., departure_date=...,
                                                arrival_date=..., provinces_visited=..., email=...,
                                                chronic_conditions=...), today=TODAY)
    long = make_declaration(form, good_answers(provinces_visited=list(form.get("provinces_visited").choice_codes()),
                                               address_street="x" * 200), today=TODAY)
    print(f"sealed size short/long:  {len(seal(short, pk))} / {len(seal(long, pk))} bytes "
          f"(plaintext JSON {len(short.to_json())} / {len(long.to_json())} bytes)")

    sealed = seal(d, pk)
    unbox = nacl.public.SealedBox(sk)
    t_open_bare = per_op(lambda: unbox.decrypt(sealed), 2000)
    t_open = per_op(lambda: open_sealed(sealed, sk), 2000)
    print(f"open + parse:            {t_open * 1e6:8.1f} µs   (bare sealed-box open {t_open_bare * 1e6:.1f} µs, ×{t_open / t_open_bare:.2f})")

    # the hostile case: 60,000-deep JSON sealed to the public key is refused by
    # the linear depth scan before json.loads (it used to raise RecursionError)
    deep_body = b"[" * 60_000
    deep_plain = MAGIC + struct.pack(">I", len(deep_body)) + deep_body
    deep_plain += bytes(-len(deep_plain) % PAD_BLOCK)
    deep = seal_plaintext(deep_plain, pk)
    t_deep = per_op(lambda: open_item(SealedItem("d", 0, deep, Path("d")), sk), 200)
    print(f"refuse 60,000-deep JSON: {t_deep * 1e6:8.1f} µs   (a genuine open + parse {t_open * 1e6:.1f} µs, ×{t_deep / t_open:.1f})")

    n = 2000
    batch = [seal(d, pk) for _ in range(n)]
    start = time.perf_counter()
    opened = [Opened(str(i), 0, open_sealed(s, sk)) for i, s in enumerate(batch)]
    t_all_open = time.perf_counter() - start
    start = time.perf_counter()
    triage(opened)
    buf = io.StringIO()
    write_csv(opened, buf, form)
    t_report = time.perf_counter() - start
    print(f"{n} declarations: open {t_all_open:.2f} s, triage + CSV {t_report:.2f} s "
          f"({len(buf.getvalue()) / 1e6:.1f} MB CSV; reporting is ×{t_report / t_all_open:.2f} of opening)")


if __name__ == "__main__":
    main()
