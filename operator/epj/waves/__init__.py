"""epj waves — the wave planner."""
