"""Shared builders for the check-in tests: an authority key pair, venues, stores."""

from __future__ import annotations

import nacl.public

from bluezone.store import DeviceStore
from bluezone_qr_checkin import payload as qp
from bluezone_qr_checkin import venue as vmod

T0 = 1_796_029_800  # 2026-11-30T09:10Z, inside every venue's validity below


class Clock:
    def __init__(self, t: int = T0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def authority() -> nacl.public.PrivateKey:
    return nacl.public.PrivateKey.generate()


def make_venue(ha: nacl.public.PrivateKey, name: str = "Sở Thông tin và Truyền thông Gia Lai",
               address: str = "Pleiku, Gia Lai", stay: int = 7200, **kw) -> tuple[vmod.CreatedVenue, qp.VenueInfo]:
    created = vmod.create_venue(vmod.VenueSpec(name, address, default_stay_seconds=stay, **kw),
                                bytes(ha.public_key), now=T0 - 3600)
    return created, qp.parse_payload(created.payload, now=T0)


def open_store(path, clock: Clock) -> DeviceStore:
    return DeviceStore(path, clock=clock)
