"""The plan of a simulated province day: who is where, when.

Citizens of a Pleiku ward go through a day in four kinds of place, each
simulated by the radio simulator's mobility models (``bluezone_ble.sim``):
buses in the morning, offices (one of them runs QR check-in at its entrance),
the market in the afternoon, and home (two neighbouring flats per group) in
the evening. Every group is a separate simulation of one shared air, so two
phones can only hear each other if their owners were in the same group.

Times are UTC; the day runs 07:00–20:00 in Vietnam (UTC+7), inside one UTC
day, so GAEN keys and exposure windows line up with the day.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

HOUR = 3600
VN_OFFSET = 7 * HOUR


@dataclass(frozen=True)
class Phase:
    """One kind of place during one part of the day."""

    name: str
    scenario: str
    start: int  # seconds after the day's UTC midnight
    duration: int
    group_size: int
    share: float  # fraction of citizens who go there


PHASES = (
    Phase("bus", "bus", 0 * HOUR, 45 * 60, 20, 0.5),               # 07:00–07:45 ICT
    Phase("office", "office", 1 * HOUR, 4 * HOUR, 16, 0.6),         # 08:00–12:00 ICT
    Phase("market", "market", 9 * HOUR + 1800, HOUR, 18, 0.45),     # 16:30–17:30 ICT
    Phase("home", "home", 11 * HOUR + 1800, 90 * 60, 8, 1.0),       # 18:30–20:00 ICT
)

#: The office group that runs QR check-in at its entrance.
CHECKIN_OFFICE = "office-1"


@dataclass
class Group:
    """People in one simulated place at one time."""

    name: str
    phase: Phase
    members: list[str]


@dataclass
class DayPlan:
    citizens: list[str]
    groups: list[Group] = field(default_factory=list)
    patient_zero: str = ""

    def groups_of(self, citizen: str) -> list[Group]:
        return [g for g in self.groups if citizen in g.members]

    def shared_groups(self, a: str, b: str) -> list[Group]:
        return [g for g in self.groups if a in g.members and b in g.members]

    def checkin_office(self) -> Group | None:
        return next((g for g in self.groups if g.name == CHECKIN_OFFICE), None)

    def the_checkin_office(self) -> Group:
        """The office group, which every planned day has (the venue-tracing story needs it)."""
        office = self.checkin_office()
        if office is None:
            raise LookupError(f"the day plan has no {CHECKIN_OFFICE!r} group")
        return office


def _split(people: list[str], size: int) -> list[list[str]]:
    n = max(1, round(len(people) / size))
    return [people[i::n] for i in range(n)]


def make_plan(n_citizens: int, seed: int) -> DayPlan:
    """A deterministic plan for ``n_citizens`` people. Patient zero rides a
    bus, works in the check-in office, shops at the market and goes home."""
    if n_citizens < 8:
        raise ValueError("the province day needs at least 8 citizens")
    rng = random.Random(seed)
    citizens = [f"c{i:03d}" for i in range(n_citizens)]
    plan = DayPlan(citizens)
    for phase in PHASES:
        if phase.name == "home":
            goers = list(citizens)  # households: consecutive numbers, two flats per group
            groups = [goers[i:i + phase.group_size] for i in range(0, len(goers), phase.group_size)]
        else:
            goers = rng.sample(citizens, max(2, round(len(citizens) * phase.share)))
            groups = _split(goers, phase.group_size)
        for k, members in enumerate(groups, 1):
            if len(members) >= 2:
                plan.groups.append(Group(f"{phase.name}-{k}", phase, sorted(members)))
    # patient zero: someone present in the check-in office, a bus and the market if possible
    office = plan.checkin_office()
    candidates = office.members if office else citizens
    scored = sorted(candidates, key=lambda c: (-len(plan.groups_of(c)), c))
    plan.patient_zero = scored[0]
    return plan
