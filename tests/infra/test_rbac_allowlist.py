"""Allow-lists of every permission the render grants (issue 19): each Role's exact verbs and resources.

Deny-lists ("no secrets", "no *") let anything else through, e.g. tenant admins given
``pods/exec``. Here every (apiGroup, resource, verb) a Role or ClusterRole grants is written
out as a literal; a new permission fails this test until it is added here on purpose.
"""

from __future__ import annotations

from typing import Any

from epj.tenants import TenantSet

Obj = dict[str, Any]
Grant = tuple[str, str, str]
READ = ("get", "list", "watch")


def _grants(role: Obj) -> set[Grant]:
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def _read(group: str, *resources: str) -> set[Grant]:
    return {(group, r, v) for r in resources for v in READ}


KOMMUNE_ADMIN: set[Grant] = {
    *_read(
        "",
        "configmaps",
        "endpoints",
        "events",
        "limitranges",
        "persistentvolumeclaims",
        "pods",
        "pods/log",
        "resourcequotas",
        "services",
    ),
    ("", "pods", "delete"),
    *_read("apps", "deployments", "replicasets"),
    *_read("batch", "jobs"),
    *_read("policy", "poddisruptionbudgets"),
    *_read("networking.k8s.io", "networkpolicies"),
    *_read("postgresql.cnpg.io", "backups", "clusters", "scheduledbackups"),
    ("postgresql.cnpg.io", "backups", "create"),
    *_read("monitoring.coreos.com", "podmonitors", "prometheusrules", "servicemonitors"),
}
ROLLBACK: set[Grant] = {
    ("apps", "deployments", "get"),
    ("apps", "deployments", "list"),
    ("apps", "deployments/scale", "get"),
    ("apps", "deployments/scale", "patch"),
}
OPERATOR_TENANT: set[Grant] = {
    ("batch", "jobs", "get"),
    ("batch", "jobs", "create"),
    ("", "pods", "get"),
    ("", "pods", "list"),
}
OPERATOR_CLUSTER: set[Grant] = {
    *_read("apiextensions.k8s.io", "customresourcedefinitions"),
    *_read("", "namespaces"),
    # The one watch over the Jobs the operator created (jobwatch.py): list and watch, never get or write.
    ("batch", "jobs", "list"),
    ("batch", "jobs", "watch"),
}
_KINDS = ("rolloutwaves", "golives", "migrationjobs", "goliveapprovals")
OPERATOR_NAMESPACE: set[Grant] = {
    *{("epj.no", k, v) for k in _KINDS for v in (*READ, "create", "patch")},
    *{("epj.no", f"{k}/status", v) for k in _KINDS for v in ("get", "patch")},
    *_read("", "configmaps"),
    *{(g, "events", v) for g in ("", "events.k8s.io") for v in ("create", "patch")},
    *{("kopf.dev", "kopfpeerings", v) for v in (*READ, "patch")},
}


def test_every_role_grants_exactly_its_allow_list(test_objects: list[Obj], tenant_set: TenantSet) -> None:
    tenant_namespaces = {t.namespace for t in tenant_set.active("test")}
    expected_tenant = {("Role", "kommune-admin"): KOMMUNE_ADMIN, ("Role", "epj-rollback"): ROLLBACK}
    expected_platform = {
        ("ClusterRole", "epj-operator"): OPERATOR_CLUSTER,
        ("ClusterRole", "epj-operator-tenant"): OPERATOR_TENANT,
        ("Role", "epj-operator"): OPERATOR_NAMESPACE,
    }
    roles = [o for o in test_objects if o["kind"] in ("Role", "ClusterRole")]
    seen: dict[str | None, set[tuple[str, str]]] = {}
    for role in roles:
        ns = role["metadata"].get("namespace")
        key = (role["kind"], role["metadata"]["name"])
        seen.setdefault(ns, set()).add(key)
        expected = expected_tenant if ns in tenant_namespaces else expected_platform
        assert key in expected, f"unexpected {key} in {ns}: add it to the allow-list on purpose"
        assert _grants(role) == expected[key], f"{key} in {ns}"
    for ns in tenant_namespaces:
        assert seen[ns] == set(expected_tenant), ns
    assert seen[None] | seen["epj-system"] == set(expected_platform)


def test_the_allow_list_catches_pods_exec_for_tenant_admins(test_objects: list[Obj]) -> None:
    admin = next(o for o in test_objects if o["kind"] == "Role" and o["metadata"]["name"] == "kommune-admin")
    widened = {
        **admin,
        "rules": [*admin["rules"], {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}],
    }
    assert _grants(widened) != KOMMUNE_ADMIN
    assert _grants(admin) == KOMMUNE_ADMIN
