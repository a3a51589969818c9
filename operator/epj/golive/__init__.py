"""Go-live domain core: phases, gates, transitions and the clock. Imports no kopf."""
