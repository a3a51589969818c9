"""One shared scenario through both adapters: the kopf operator reaches the core's phases and gate outcomes.

The rehearsal (and the core's own tests) play ``shared-wave`` through :func:`epj.golive.sim.run_wave`;
here the same scenario is played against the real operator on the emulator. Both must agree
tenant by tenant: one clean go-live, one rollback after a truncated cutover extract, one
rejected go/no-go that is resumed and goes live after its dependency.
"""

from __future__ import annotations

from epj.golive.scenario import load_scenario
from epj.golive.sim import run_wave
from epj.operator.scenario_run import run_scenario_async


async def test_shared_wave_reaches_the_same_phases_and_gates_as_the_core() -> None:
    scenario = load_scenario("shared-wave")
    through_operator = await run_scenario_async(scenario)
    through_core = run_wave(scenario)
    for tenant in scenario.wave.order():
        assert through_operator[tenant] == through_core.trace(tenant), tenant
        expected = scenario.expect[tenant]
        assert through_operator[tenant].outcome == expected.outcome
        assert through_operator[tenant].phases == expected.phases
