"""The Pulumi program for tenants and platform, and ``epj render`` (issue 2).

Public entry points (import the module you need; this package imports nothing heavy):

- :func:`epj.infra.program.main` — the Pulumi program (``infra/__main__.py`` calls it).
- :class:`epj.infra.components.MunicipalityTenant`, :class:`epj.infra.components.PlatformBase`.
- :func:`epj.infra.render.render_objects` — every Kubernetes object of a stack, without a cluster.
- :func:`epj.infra.validate.validate_objects` — schema checks of rendered objects.
- :func:`epj.infra.isolation.ingress_allowed` — NetworkPolicy reachability analysis.
- :mod:`epj.infra.manifests` — the objects themselves, and the names other areas share
  (``DB_SECRET``, ``DB_CLUSTER``, ``COMPONENT``, ``TENANT_LABEL`` …).
- :func:`epj.infra.config.load_stack_config` — a stack file's settings.
"""
