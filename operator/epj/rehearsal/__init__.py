"""epj rehearse — a cutover night on one machine."""
