"""epj waves — the wave planner (issue 6): which municipality goes live in which production window.

Layout (domain core first, adapters last):

- :mod:`epj.waves.model` — scenario and plan types (pydantic, pure);
- :mod:`epj.waves.calendar` — Easter, holidays, windows, working days, milestones;
- :mod:`epj.waves.scenario` — load a scenario file (errors name file/field/reason) and resolve it;
- :mod:`epj.waves.solver` — the CP-SAT model, minimal conflicting rules, binding rules;
- :mod:`epj.waves.training` — week-by-week training schedule per wave (min-cost flow);
- :mod:`epj.waves.check` — the independent checker behind ``epj waves check``;
- :mod:`epj.waves.objective`, :mod:`epj.waves.greedy` — the cost in plain Python and the greedy baseline;
- :mod:`epj.waves.replan` — re-planning after a change, what moved and why;
- :mod:`epj.waves.outputs`, :mod:`epj.waves.gantt` — manifests, ICS, summary, Gantt;
- :mod:`epj.waves.national`, :mod:`epj.waves.bench` — the synthetic 357-municipality benchmark;
- :mod:`epj.waves.cli` — ``epj waves plan|check|replan|bench``.
"""
