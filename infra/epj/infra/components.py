"""Pulumi components: one ``MunicipalityTenant`` per active tenant, one ``PlatformBase``.

The components are thin: :mod:`epj.infra.manifests` says *what* each object is,
these classes register it with Pulumi (typed resource per kind, ``parent=self``,
dependencies on the namespace) and generate the database password. Resource names
are ``<namespace>/<kind>/<name>`` so they depend on the tenant alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from epj.infra import manifests
from epj.infra.config import InfraConfig
from epj.tenants.model import Tenant
from epj.tenants.sizing import TenantSizing

Manifest = dict[str, Any]

_TYPED: dict[tuple[str, str], Any] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ResourceQuota"): k8s.core.v1.ResourceQuota,
    ("v1", "LimitRange"): k8s.core.v1.LimitRange,
    ("v1", "Secret"): k8s.core.v1.Secret,
    ("v1", "Service"): k8s.core.v1.Service,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("networking.k8s.io/v1", "Ingress"): k8s.networking.v1.Ingress,
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"): (
        k8s.admissionregistration.v1.ValidatingAdmissionPolicy
    ),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"): (
        k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding
    ),
    ("rbac.authorization.k8s.io/v1", "Role"): k8s.rbac.v1.Role,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): k8s.rbac.v1.RoleBinding,
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): k8s.rbac.v1.ClusterRole,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): k8s.rbac.v1.ClusterRoleBinding,
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): k8s.apiextensions.v1.CustomResourceDefinition,
    ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"): (
        k8s.admissionregistration.v1.MutatingWebhookConfiguration
    ),
    ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"): (
        k8s.admissionregistration.v1.ValidatingWebhookConfiguration
    ),
}


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def resource_name(obj: Mapping[str, Any]) -> str:
    """The Pulumi logical name of a Kubernetes object: ``<namespace|cluster>/<kind>/<name>``.

    A Namespace counts as inside itself, so everything of a tenant starts with ``kommune-<nr>/``.
    """
    meta = obj["metadata"]
    scope = meta["name"] if obj["kind"] == "Namespace" else meta.get("namespace", "cluster")
    return f"{scope}/{obj['kind'].lower()}/{meta['name']}"


def register_object(obj: Manifest, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """Register one Kubernetes object with Pulumi: the typed class for built-in kinds, else CustomResource."""
    name = resource_name(obj)
    fields = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    cls = _TYPED.get((obj["apiVersion"], obj["kind"]))
    if cls is not None:
        resource: pulumi.CustomResource = cls(name, opts=opts, **{_snake(k): v for k, v in fields.items()})
        return resource
    metadata = fields.pop("metadata")
    return k8s.apiextensions.CustomResource(
        name, api_version=obj["apiVersion"], kind=obj["kind"], metadata=metadata, opts=opts, **fields
    )


#: Kinds that hold (or are) a tenant's clinical data: deleting one deletes the data.
DATA_KINDS = frozenset({"Namespace", "Cluster", "PersistentVolumeClaim"})


def holds_data(obj: Mapping[str, Any]) -> bool:
    """Whether deleting this object would delete or orphan patient data (the database owner's secret too)."""
    if obj["kind"] in DATA_KINDS:
        return True
    return bool(obj["kind"] == "Secret" and obj["metadata"]["name"] == manifests.DB_SECRET)


def data_options(
    parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource], *, protect: bool
) -> pulumi.ResourceOptions:
    """Resource options of every data-bearing object: why both flags (issue 12).

    ``protect``: the Pulumi engine refuses to delete the resource (a program that stops
    declaring it fails at preview/up; ``pulumi destroy`` fails), so a tenant-file edit can never
    reach the cluster. It is lifted only for a tenant whose file records ``leaving.released_on``.
    ``retainOnDelete``: even then (or after a manual ``pulumi state unprotect``) Pulumi only
    forgets the resource and leaves it in the cluster; deleting the data is a separate,
    explicit step of runbooks/process/tenant-leaving.md, after the final export and retention.
    """
    return pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on), protect=protect, retain_on_delete=True)


@dataclass(frozen=True)
class MunicipalityTenantArgs:
    """What one tenant's component needs: the tenant, its sizing, the stack config, optional rules.

    ``protect``: false only for a released tenant (see :func:`data_options`).
    """

    tenant: Tenant
    sizing: TenantSizing
    config: InfraConfig
    prometheus_rules: Sequence[Manifest] = field(default_factory=tuple)
    protect: bool = True
    #: The tenant's object-store key (access key id, secret key): Pulumi secret Outputs.
    backup_credentials: tuple[object, object] = ("", "")


class MunicipalityTenant(pulumi.ComponentResource):
    """The DESIGN §5 baseline of one municipality in one environment (a Pulumi stack)."""

    namespace: pulumi.Output[str]
    objects: list[pulumi.CustomResource]
    storage_gib: int
    protected: bool

    def __init__(self, name: str, args: MunicipalityTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("epj:infra:MunicipalityTenant", name, None, opts)
        tenant = args.tenant
        password = random.RandomPassword(
            f"{tenant.namespace}/db-owner-password",
            length=32,
            special=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        objs = manifests.tenant_manifests(tenant, args.sizing, args.config, password.result, args.backup_credentials)
        objs += [dict(rule) for rule in args.prometheus_rules]
        ns_obj, rest = objs[0], objs[1:]
        ns = register_object(ns_obj, data_options(self, [], protect=args.protect))
        self.objects = [ns]
        secrets: list[pulumi.CustomResource] = []
        for obj in rest:
            depends: list[pulumi.Resource] = [ns]
            if obj["kind"] == "Cluster":
                depends += secrets  # CloudNativePG reads the owner and object-store secrets at bootstrap
            opts = (
                data_options(self, depends, protect=args.protect)
                if holds_data(obj)
                else pulumi.ResourceOptions(parent=self, depends_on=depends)
            )
            created = register_object(obj, opts)
            if obj["kind"] == "Secret":
                secrets.append(created)
            self.objects.append(created)
        self.namespace = pulumi.Output.from_input(tenant.namespace)
        self.storage_gib = args.sizing.database.storage_gib
        self.protected = args.protect
        self.register_outputs(
            {
                "namespace": self.namespace,
                "kommunenummer": tenant.kommunenummer,
                "objects": len(self.objects),
            }
        )


@dataclass(frozen=True)
class PlatformBaseArgs:
    """Platform-wide pieces: the operator's CRDs (from ``epj.operator.crds``) and optional alert rules."""

    config: InfraConfig
    crds: Sequence[Manifest]
    prometheus_rules: Sequence[Manifest] = field(default_factory=tuple)


class PlatformBase(pulumi.ComponentResource):
    """Operator namespace, CRDs, RBAC and Deployment, and the monitoring namespace."""

    objects: list[pulumi.CustomResource]

    def __init__(self, name: str, args: PlatformBaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("epj:infra:PlatformBase", name, None, opts)
        objs = manifests.platform_manifests(args.config, list(args.crds))
        objs += [dict(rule) for rule in args.prometheus_rules]
        namespaces = [o for o in objs if o["kind"] == "Namespace"]
        rest = [o for o in objs if o["kind"] != "Namespace"]
        self.objects = [register_object(o, pulumi.ResourceOptions(parent=self)) for o in namespaces]
        crds = [o for o in rest if o["kind"] == "CustomResourceDefinition"]
        crd_resources = [
            register_object(o, pulumi.ResourceOptions(parent=self, depends_on=list(self.objects))) for o in crds
        ]
        self.objects += crd_resources
        for obj in rest:
            if obj["kind"] == "CustomResourceDefinition":
                continue
            depends = [*self.objects[: len(namespaces)], *crd_resources]
            self.objects.append(register_object(obj, pulumi.ResourceOptions(parent=self, depends_on=depends)))
        self.register_outputs({"operatorNamespace": args.config.operator_namespace, "objects": len(self.objects)})
