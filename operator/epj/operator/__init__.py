"""epj golive / epj operator — the kopf operator."""
