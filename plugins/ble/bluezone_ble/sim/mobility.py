"""Mobility models: where each person is, and which way they face, over time.

A scenario turns (number of people, duration, seed) into one
:class:`Track` per person, sampled every ``step`` seconds. The models are
simple on purpose but shaped like the places they are named after:

* ``office``: desks in clusters of four (1.6 m apart), breaks to a pantry,
  meetings around a table; walls are not modelled (open plan).
* ``market``: vendors at stalls, shoppers walking between stalls (1 m/s)
  and stopping 1–8 minutes; crowds block the line of sight.
* ``bus``: seats in rows (0.8 m pitch, 2 + 2 with an aisle), everyone facing
  forward; people board and alight at stops; the metal body makes received
  power nearly independent of distance (fitted to Leith & Farrell's Dublin
  tram measurements, 2020).
* ``home``: two neighbouring flats, a family in each moving between rooms;
  walls between rooms and between flats.
* ``static``: fixed positions given by the caller (tests, demos).

All randomness comes from the ``random.Random`` passed in, so a seed gives
the same tracks on every machine.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

STEP_SECONDS = 5.0
WALK_SPEED = 1.1  # m/s
FAR = (10_000.0, 10_000.0)  # "not here": off the map (a bus passenger before boarding)


@dataclass(slots=True)
class Track:
    """Positions ``(x, y, facing)`` at ``t = i * step`` for one person."""

    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    facing: list[float] = field(default_factory=list)
    room: list[int] = field(default_factory=list)

    def at(self, i: int) -> tuple[float, float, float, int]:
        i = min(i, len(self.xs) - 1)
        return self.xs[i], self.ys[i], self.facing[i], self.room[i]


@dataclass(frozen=True, slots=True)
class Environment:
    """Radio overrides of a place (see :class:`~bluezone_ble.sim.radio.RadioModel`)."""

    path_loss_exponent: float = 2.0
    shadowing_sigma_db: float = 4.0
    walls: bool = False
    crowd_blocking: bool = True
    #: Extra loss at every distance: in a metal-rich vehicle the reflections
    #: flatten the distance law, so attenuation sits high and nearly constant
    #: (fitted to the Dublin tram measurements, docs/simulator.md).
    excess_loss_db: float = 0.0

    def radio_overrides(self) -> dict[str, float]:
        return {"path_loss_exponent": self.path_loss_exponent, "shadowing_sigma_db": self.shadowing_sigma_db,
                "excess_loss_db": self.excess_loss_db}


class _Planner:
    """Builds a track from a list of (arrive-by time, place) stops, walking
    in straight lines between them."""

    def __init__(self, steps: int, step: float):
        self.steps, self.step = steps, step

    def build(self, stops: list[tuple[float, tuple[float, float], float, int]], rng: random.Random) -> Track:
        """``stops``: (leave_time, (x, y), facing, room) — stay at a place until
        ``leave_time``, then walk to the next one."""
        tr = Track()
        idx = 0
        x, y = stops[0][1]
        facing, room = stops[0][2], stops[0][3]
        walking_to: tuple[float, float] | None = None
        for i in range(self.steps):
            t = i * self.step
            while walking_to is None and idx + 1 < len(stops) and t >= stops[idx][0]:
                idx += 1
                walking_to = stops[idx][1]
            if walking_to is not None:
                dx, dy = walking_to[0] - x, walking_to[1] - y
                dist = math.hypot(dx, dy)
                move = WALK_SPEED * self.step
                if dist <= move:
                    x, y = walking_to
                    facing, room = stops[idx][2], stops[idx][3]
                    walking_to = None
                else:
                    x, y = x + dx / dist * move, y + dy / dist * move
                    facing = math.atan2(dy, dx)
                    room = stops[idx][3]
            sway = rng.gauss(0, 0.15) if walking_to is None else 0.0
            tr.xs.append(x)
            tr.ys.append(y)
            tr.facing.append(facing + sway)
            tr.room.append(room)
        return tr


class Scenario:
    """Base class: a named place with an environment and a way to move people."""

    name = "base"
    description = ""
    environment = Environment()

    def tracks(self, n: int, duration: float, rng: random.Random, step: float = STEP_SECONDS) -> list[Track]:
        raise NotImplementedError


class Office(Scenario):
    name = "office"
    description = "open-plan office: desk clusters of 4, pantry breaks, meetings"
    environment = Environment(path_loss_exponent=2.2, shadowing_sigma_db=4.0)

    def tracks(self, n, duration, rng, step=STEP_SECONDS):
        planner = _Planner(int(duration // step) + 1, step)
        desks = []
        for c in range(math.ceil(n / 4)):
            cx, cy = (c % 4) * 5.0, (c // 4) * 5.0
            for k, (ox, oy, _facing) in enumerate(((0, 0, 0.0), (1.6, 0, 0.0), (0, 1.6, math.pi), (1.6, 1.6, math.pi))):
                # pairs face each other across the cluster: heads up, +y / −y
                desks.append(((cx + ox, cy + oy), math.pi / 2 if k < 2 else -math.pi / 2))
        pantry = (22.0, 2.0)
        meeting = (22.0, 12.0)
        out = []
        for p in range(n):
            home, face = desks[p]
            stops = []
            t = rng.uniform(0, 1800)  # first time this person leaves the desk
            while t < duration:
                stops.append((t, home, face, 0))
                ang = rng.uniform(0, 2 * math.pi)
                if rng.random() < 0.5:
                    centre, radius, away = pantry, 1.5, rng.uniform(3, 12) * 60
                else:
                    centre, radius, away = meeting, 1.3, rng.uniform(20, 50) * 60
                spot = (centre[0] + radius * math.cos(ang), centre[1] + radius * math.sin(ang))
                stops.append((t + away, spot, ang + math.pi, 0))
                t += away + rng.uniform(20, 70) * 60
            stops.append((float("inf"), home, face, 0))
            out.append(planner.build(stops, rng))
        return out


class Market(Scenario):
    name = "market"
    description = "covered market: vendors at stalls, shoppers walking and stopping"
    environment = Environment(path_loss_exponent=2.0, shadowing_sigma_db=5.0)

    def tracks(self, n, duration, rng, step=STEP_SECONDS):
        planner = _Planner(int(duration // step) + 1, step)
        stalls = [(x * 4.0, y * 5.0) for x in range(5) for y in range(3)]
        out: list[Track] = []
        plans: dict[int, list] = {}
        for p in range(n):
            if p % 3 == 0:  # a vendor, behind their stall, facing the aisle
                sx, sy = stalls[(p * 7) % len(stalls)]
                out.append(planner.build([(float("inf"), (sx, sy - 0.6), math.pi / 2, 0)], rng))
                continue
            if p % 3 == 2 and (p - 1) in plans and rng.random() < 0.7:
                # shopping together: follow the companion's stops half a metre aside
                stops = [(t, (x + 0.5, y), f, r) for t, (x, y), f, r in plans[p - 1]]
            else:
                stops = []
                t = 0.0
                while t < duration:
                    sx, sy = rng.choice(stalls)
                    spot = (sx + rng.uniform(-1.0, 1.0), sy + 0.6 + rng.uniform(0, 0.4))
                    t += rng.uniform(2, 12) * 60 + 20
                    stops.append((t, spot, -math.pi / 2 + rng.uniform(-0.5, 0.5), 0))
            plans[p] = stops
            out.append(planner.build(stops, rng))
        return out


class Bus(Scenario):
    name = "bus"
    description = "city bus: 2+2 seats, 0.8 m rows, boarding and alighting at stops; metal body"
    #: Fitted to Leith & Farrell's Dublin tram measurements (metal-rich
    #: vehicle: attenuation high and nearly flat with distance); see
    #: docs/simulator.md and plugins/ble/tests/test_field_data.py.
    environment = Environment(path_loss_exponent=0.6, shadowing_sigma_db=8.0, excess_loss_db=6.0)

    def tracks(self, n, duration, rng, step=STEP_SECONDS):
        planner = _Planner(int(duration // step) + 1, step)
        seats = [(x, row * 0.8) for row in range(12) for x in (0.0, 0.5, 1.4, 1.9)]
        rng.shuffle(seats)
        stop_every = 6 * 60
        out = []
        for p in range(n):
            seat = seats[p % len(seats)]
            board = rng.choice([0, 0, 0, stop_every, 2 * stop_every]) if duration > 3 * stop_every else 0
            ride = rng.choice([20, 30, 45, 60, 90]) * 60
            alight = min(duration, board + ride)
            stops = []
            if board > 0:
                stops.append((float(board), FAR, math.pi / 2, 1))
            stops.append((float(alight), seat, math.pi / 2, 0))
            stops.append((float("inf"), FAR, math.pi / 2, 1))
            out.append(_teleport_track(planner, stops))
        return out


def _teleport_track(planner: _Planner, stops) -> Track:
    """People appear at and vanish from a vehicle at stops (no walking)."""
    tr = Track()
    idx = 0
    for i in range(planner.steps):
        t = i * planner.step
        while idx + 1 < len(stops) and t >= stops[idx][0]:
            idx += 1
        _, (x, y), face, room = stops[idx]
        tr.xs.append(x)
        tr.ys.append(y)
        tr.facing.append(face)
        tr.room.append(room)
    return tr


class Home(Scenario):
    name = "home"
    description = "two neighbouring flats (families of up to 4); walls between rooms and flats"
    environment = Environment(path_loss_exponent=2.4, shadowing_sigma_db=4.0, walls=True)

    #: rooms as (x0, x1) bands; flat A is rooms 0-2, flat B rooms 3-5 (mirror)
    ROOMS = [(0.0, 4.0), (4.0, 8.0), (8.0, 12.0), (12.2, 16.2), (16.2, 20.2), (20.2, 24.2)]

    def tracks(self, n, duration, rng, step=STEP_SECONDS):
        planner = _Planner(int(duration // step) + 1, step)
        out = []
        for p in range(n):
            flat = 0 if p % 2 == 0 else 1
            stops = []
            t = 0.0
            while t < duration:
                room = flat * 3 + rng.randrange(3)
                x0, x1 = self.ROOMS[room]
                spot = (rng.uniform(x0 + 0.5, x1 - 0.5), rng.uniform(0.5, 5.5))
                t += rng.uniform(10, 40) * 60
                stops.append((t, spot, rng.uniform(-math.pi, math.pi), room))
            out.append(planner.build(stops, rng))
        return out


class Static(Scenario):
    """Everyone stays where the caller puts them: ``[(x, y), ...]`` metres,
    optionally with facing angles."""

    name = "static"
    description = "fixed positions (tests and demos)"

    def __init__(self, positions: list[tuple[float, float]], facing: list[float] | None = None,
                 environment: Environment | None = None):
        self.positions = positions
        self.facing_angles = facing
        if environment is not None:
            self.environment = environment

    def tracks(self, n, duration, rng, step=STEP_SECONDS):
        if n > len(self.positions):
            raise ValueError(f"static scenario has {len(self.positions)} positions for {n} devices")
        steps = int(duration // step) + 1
        out = []
        for p in range(n):
            x, y = self.positions[p]
            if self.facing_angles is not None:
                f = self.facing_angles[p]
            else:  # face the centroid of the others: phones in front of their owners
                ox = [q for k, q in enumerate(self.positions[:n]) if k != p] or [(x + 1, y)]
                cx, cy = sum(a for a, _ in ox) / len(ox), sum(b for _, b in ox) / len(ox)
                f = math.atan2(cy - y, cx - x)
            out.append(Track([x] * steps, [y] * steps, [f] * steps, [0] * steps))
        return out


SCENARIOS: dict[str, Any] = {s.name: s for s in (Office(), Market(), Bus(), Home())}


def get_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; choose one of: {', '.join(sorted(SCENARIOS))}") from None
