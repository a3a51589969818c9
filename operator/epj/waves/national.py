"""A synthetic national scenario: 357 municipalities, generated deterministically.

Populations follow Norway's shape: a handful of cities (Oslo ~700,000, then Bergen,
Trondheim, Stavanger …) and a long tail of small municipalities (median ~5,000,
smallest a few hundred), drawn from a seeded log-normal distribution so every run
sees the same country. About a quarter of the municipalities share a cooperation
with their neighbours (groups of 2–4 that go live together); one in ten is a
principal. Large municipalities get training rooms in proportion to their end users.
Used by ``epj waves bench`` to show the solver scales beyond the region.
"""

from __future__ import annotations

import datetime as dt
import math
import random

from epj.waves.model import (
    CalendarSpec,
    Capacity,
    Group,
    InlineTenant,
    Rules,
    Scenario,
    SolverSettings,
    TenantSource,
    Training,
    Windows,
)

NATIONAL_TENANTS = 357
#: The largest Norwegian municipalities (rounded 2024 populations); the rest is drawn.
CITIES = (717_000, 291_000, 214_000, 149_000, 131_000, 116_000, 100_000, 96_000, 82_000, 80_000)


def national_populations(count: int = NATIONAL_TENANTS, seed: int = 357) -> list[int]:
    """Deterministic populations, largest first."""
    rng = random.Random(seed)
    tail = [
        max(200, min(75_000, int(round(rng.lognormvariate(math.log(5_000), 1.05), -1))))
        for _ in range(count - len(CITIES))
    ]
    return sorted([*CITIES[:count], *tail], reverse=True)[:count]


def national_scenario(count: int = NATIONAL_TENANTS, seed: int = 357, time_limit_s: float = 55.0) -> Scenario:
    """The synthetic national scenario (inline tenants, no tenant files)."""
    rng = random.Random(seed + 1)
    populations = national_populations(count, seed)
    order = list(range(count))
    rng.shuffle(order)  # kommunenummer order is unrelated to size, as in reality
    tenants = []
    rooms: dict[str, int] = {}
    for position, index in enumerate(order):
        inhabitants = populations[index]
        tid = f"{1001 + position:04d}"
        end_users = max(25, round(inhabitants * 0.025))
        tenants.append(
            InlineTenant(
                id=tid,
                name=f"Kommune {tid}",
                role="principal" if rng.random() < 0.1 else "option",
                inhabitants=inhabitants,
                end_users=end_users,
            )
        )
        if end_users > 750:
            rooms[tid] = math.ceil(end_users / 250)
    groups: list[Group] = []
    position = 0
    while position < count - 1:
        if rng.random() < 0.12:
            size = rng.randint(2, 4)
            members = tuple(t.id for t in tenants[position : position + size])
            if len(members) > 1 and sum(t.end_users for t in tenants[position : position + size]) < 3_000:
                groups.append(Group(name=f"samarbeid-{len(groups) + 1}", members=members, must=True))
                position += size
                continue
        position += 1
    return Scenario(
        name="national-synthetic",
        description=f"Synthetic national roll-out: {count} municipalities (seed {seed}).",
        planned_on=dt.date(2026, 11, 22),
        tenants=TenantSource(from_files=False, inline=tuple(tenants)),
        calendar=CalendarSpec(
            windows=Windows(years=tuple(range(2028, 2037))),
            earliest_go_live=dt.date(2028, 5, 1),
            latest_go_live=dt.date(2036, 12, 31),
        ),
        training=Training(courses_per_day=60, instructors=60, rooms=rooms),
        capacity=Capacity(command_centre_tenants=16, max_tenants_per_window=16, max_end_users_per_window=20_000),
        rules=Rules(groups_from_cooperation=False, groups=tuple(groups)),
        solver=SolverSettings(time_limit_s=time_limit_s),
    )
