"""epj runbook — runbooks and on-call tooling."""
