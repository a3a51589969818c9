"""Pulumi entry point (``pulumi up`` in infra/): read config, instantiate the components.

Everything else lives in the ``epj.infra`` package so ``epj render`` runs the very same code.
"""

from epj.infra.program import main

main()
