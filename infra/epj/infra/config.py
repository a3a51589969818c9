"""Stack configuration of the Pulumi program: what differs between the `test` and `prod` clusters.

The program reads these keys from the Pulumi stack (``infra/Pulumi.<env>.yaml``,
namespace ``epj-platform:``). ``epj render`` reads the same file and feeds it to
the same program under mocks, so there is one list of keys, here.

This module imports no Pulumi: :func:`infra_config_from_mapping` takes the plain
key/value map, and the program's adapter passes ``pulumi.Config`` values in.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from epj import contract
from epj.paths import infra_dir

PROJECT = "epj-platform"


class InfraConfigError(ValueError):
    """A stack configuration value is missing or wrong; the message names the file and key."""


@dataclass(frozen=True)
class InfraConfig:
    """Every stack setting the program uses, with the defaults documented in infra/README.md."""

    environment: str
    image_registry: str
    image_tag: str
    operator_image: str
    health_network_cidrs: tuple[str, ...]
    health_network_ports: tuple[int, ...] = (443, 5671)
    admin_group_pattern: str = "epj-kommune-{kommunenummer}-admins"
    ingress_namespace: str = "ingress-nginx"
    monitoring_namespace: str = contract.MONITORING_NAMESPACE
    operator_namespace: str = contract.OPERATOR_NAMESPACE
    cnpg_operator_namespace: str = "cnpg-system"
    api_server_cidrs: tuple[str, ...] = ()
    api_server_port: int = 6443
    postgres_image: str = "ghcr.io/cloudnative-pg/postgresql:16.4"
    storage_class: str | None = None
    image_digests: Mapping[str, str] = field(default_factory=dict)
    #: The ``kubernetes`` Service's ClusterIP(s): pods dial it on 443 before DNAT.
    api_server_service_cidrs: tuple[str, ...] = ()
    api_server_service_port: int = 443
    #: kubeconfig context the stack's explicit Kubernetes provider targets (never kubectl's current one).
    kube_context: str = ""
    #: A docker-registry Secret in each tenant namespace used to pull images, when the registry needs one.
    image_pull_secret: str | None = None
    #: DNS zone of the tenants' hosts: ``<service>.<kommunenummer>.<ingressDomain>``.
    ingress_domain: str = ""
    ingress_class: str = "nginx-internal"
    public_ingress_class: str = "nginx-public"
    #: cert-manager issuer that signs every tenant's TLS certificate.
    cert_issuer: str = ""
    cert_issuer_kind: str = "ClusterIssuer"
    # Continuous backup (issue 13, epj.infra.backup): the S3-compatible object store and the policy.
    backup_endpoint_url: str = ""
    backup_bucket: str = ""
    backup_endpoint_cidrs: tuple[str, ...] = ()
    backup_endpoint_port: int = 443
    backup_encryption: str = "AES256"
    backup_retention: str = "30d"
    backup_schedule: str = "0 0 1 * * *"
    #: Where on-call staff open runbooks: every alert's ``runbook_url`` is ``<this>/runbooks/alerts/<Alert>.md``.
    runbook_base_url: str = contract.DEFAULT_RUNBOOK_BASE_URL
    #: Alertmanager as the operator's no-critical-alerts gate reaches it.
    alertmanager_url: str = contract.DEFAULT_ALERTMANAGER_URL
    #: Image of the migration Jobs (``epj migrate``); empty: the operator image (one repository builds both).
    migration_image: str = ""
    #: ``{integration service: URL}`` the probe exporter checks over the health network.
    integration_probe_urls: Mapping[str, str] = field(default_factory=dict)

    @property
    def effective_migration_image(self) -> str:
        """The image the operator starts migration Jobs with."""
        return self.migration_image or self.operator_image

    def image(self, name: str) -> str:
        """A vendor image ``<registry>/<image>:<tag>@sha256:…``; an image without a configured digest is refused."""
        digest = self.image_digests.get(name)
        if not digest:
            raise InfraConfigError(
                f"Pulumi.{self.environment}.yaml: {PROJECT}:imageDigests has no digest for {name!r}: "
                "every workload is pinned by digest; add the vendor's published sha256 for it"
            )
        return f"{self.image_registry}/{name}:{self.image_tag}@{digest}"

    @property
    def registry_host(self) -> str:
        """The registry every tenant workload's image must come from (host part of ``imageRegistry``)."""
        return self.image_registry.split("/", 1)[0]

    def admin_group(self, kommunenummer: str) -> str:
        """The OIDC group whose members administer one municipality's namespace."""
        return self.admin_group_pattern.format(kommunenummer=kommunenummer)


_KEYS: dict[str, str] = {
    "imageRegistry": "image_registry",
    "imageTag": "image_tag",
    "operatorImage": "operator_image",
    "healthNetworkCidrs": "health_network_cidrs",
    "healthNetworkPorts": "health_network_ports",
    "adminGroupPattern": "admin_group_pattern",
    "ingressNamespace": "ingress_namespace",
    "monitoringNamespace": "monitoring_namespace",
    "operatorNamespace": "operator_namespace",
    "cnpgOperatorNamespace": "cnpg_operator_namespace",
    "apiServerCidrs": "api_server_cidrs",
    "apiServerPort": "api_server_port",
    "postgresImage": "postgres_image",
    "storageClass": "storage_class",
    "imageDigests": "image_digests",
    "apiServerServiceCidrs": "api_server_service_cidrs",
    "apiServerServicePort": "api_server_service_port",
    "kubeContext": "kube_context",
    "imagePullSecret": "image_pull_secret",
    "ingressDomain": "ingress_domain",
    "ingressClass": "ingress_class",
    "publicIngressClass": "public_ingress_class",
    "certIssuer": "cert_issuer",
    "certIssuerKind": "cert_issuer_kind",
    "backupEndpointUrl": "backup_endpoint_url",
    "backupBucket": "backup_bucket",
    "backupEndpointCidrs": "backup_endpoint_cidrs",
    "backupEndpointPort": "backup_endpoint_port",
    "backupEncryption": "backup_encryption",
    "backupRetention": "backup_retention",
    "backupSchedule": "backup_schedule",
    "runbookBaseUrl": "runbook_base_url",
    "alertmanagerUrl": "alertmanager_url",
    "migrationImage": "migration_image",
    "integrationProbeUrls": "integration_probe_urls",
}
_REQUIRED = (
    "imageRegistry",
    "imageTag",
    "imageDigests",
    "operatorImage",
    "postgresImage",
    "healthNetworkCidrs",
    "apiServerCidrs",
    "apiServerServiceCidrs",
    "kubeContext",
    "ingressDomain",
    "certIssuer",
    "backupEndpointUrl",
    "backupBucket",
    "backupEndpointCidrs",
    "runbookBaseUrl",
)
_LISTS = {"healthNetworkCidrs", "healthNetworkPorts", "apiServerCidrs", "apiServerServiceCidrs", "backupEndpointCidrs"}
_PORTS = {"apiServerPort", "apiServerServicePort", "backupEndpointPort"}
#: Images outside the vendor's registry+tag scheme: a full reference pinned by digest.
_PINNED_IMAGES = {"operatorImage", "postgresImage", "migrationImage"}
_PINNED_REF = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?/[^@\s]+@sha256:[0-9a-f]{64}$")
#: Pulumi secret (``pulumi config set --secret --path``): ``{kommunenummer: {accessKeyId, secretAccessKey}}``.
BACKUP_CREDENTIALS_KEY = "backupCredentials"
_BACKUP_ENCRYPTIONS = ("AES256", "aws:kms")
_RETENTION = re.compile(r"^[1-9][0-9]*[dwm]$")
# CloudNativePG schedules have six fields, seconds first.
_SCHEDULE = re.compile(r"^\S+( \S+){5}$")
#: Environments whose URLs must be real: a reserved ``.invalid`` host there would send on-call staff nowhere.
_REAL_ENVIRONMENTS = frozenset({"prod"})
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def config_keys() -> tuple[str, ...]:
    """The stack config keys (without the ``epj-platform:`` prefix) the program understands."""
    return tuple(_KEYS)


def _decode(key: str, value: Any, source: str) -> Any:
    """Pulumi hands structured values over as JSON strings; the stack file as YAML values."""
    if key in _LISTS and isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise InfraConfigError(f"{source}: {PROJECT}:{key}: must be a list ({exc})") from exc
    if key in _LISTS:
        if not isinstance(value, list) or not value:
            raise InfraConfigError(f"{source}: {PROJECT}:{key}: must be a non-empty list")
        return tuple(value)
    if key == "imageDigests":
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise InfraConfigError(f"{source}: {PROJECT}:{key}: must be a mapping image → digest ({exc})") from exc
        if not isinstance(value, dict):
            raise InfraConfigError(f"{source}: {PROJECT}:{key}: must be a mapping image → digest")
        for image, digest in value.items():
            if not isinstance(digest, str) or not _DIGEST.match(digest):
                raise InfraConfigError(f"{source}: {PROJECT}:{key}.{image}: {digest!r} is not a sha256:<64 hex> digest")
        return dict(sorted(value.items()))
    if key in _PINNED_IMAGES and not (isinstance(value, str) and _PINNED_REF.match(value)):
        raise InfraConfigError(
            f"{source}: {PROJECT}:{key}: {value!r} is not pinned by digest (<registry>/<image>[:tag]@sha256:<64 hex>)"
        )
    if key == "certIssuerKind" and value not in ("ClusterIssuer", "Issuer"):
        raise InfraConfigError(f"{source}: {PROJECT}:{key}: must be ClusterIssuer or Issuer")
    if key == "integrationProbeUrls":
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise InfraConfigError(f"{source}: {PROJECT}:{key}: must be a mapping service → URL ({exc})") from exc
        if not isinstance(value, dict):
            raise InfraConfigError(f"{source}: {PROJECT}:{key}: must be a mapping service → URL")
        for service, url in value.items():
            if not isinstance(url, str) or not url.startswith(("https://", "http://")):
                raise InfraConfigError(f"{source}: {PROJECT}:{key}.{service}: {url!r} is not an http(s) URL")
        return dict(sorted(value.items()))
    if key in _PORTS:
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise InfraConfigError(f"{source}: {PROJECT}:{key}: must be a port number") from exc
    if not isinstance(value, str) or not value:
        raise InfraConfigError(f"{source}: {PROJECT}:{key}: must be a non-empty string")
    return value


def infra_config_from_mapping(environment: str, values: Mapping[str, Any], source: str = "stack config") -> InfraConfig:
    """Build and check the config from ``{key: value}`` (keys without the project prefix)."""
    unknown = sorted(set(values) - set(_KEYS))
    if unknown:
        raise InfraConfigError(f"{source}: unknown key(s) {', '.join(f'{PROJECT}:{k}' for k in unknown)}")
    missing = [k for k in _REQUIRED if k not in values]
    if missing:
        raise InfraConfigError(f"{source}: missing required key(s) {', '.join(f'{PROJECT}:{k}' for k in missing)}")
    kwargs = {_KEYS[k]: _decode(k, v, source) for k, v in values.items()}
    for key in ("healthNetworkCidrs", "apiServerCidrs", "apiServerServiceCidrs", "backupEndpointCidrs"):
        for cidr in kwargs[_KEYS[key]]:
            try:
                ipaddress.ip_network(str(cidr))
            except ValueError as exc:
                raise InfraConfigError(f"{source}: {PROJECT}:{key}: {cidr!r} is not a CIDR ({exc})") from exc
    _check_backup(kwargs, source)
    if "{kommunenummer}" not in kwargs.get("admin_group_pattern", "{kommunenummer}"):
        raise InfraConfigError(f"{source}: {PROJECT}:adminGroupPattern: must contain {{kommunenummer}}")
    for key in ("runbookBaseUrl", "alertmanagerUrl"):
        url = kwargs.get(_KEYS[key])
        if url is None:
            continue
        if not url.startswith(("https://", "http://")):
            raise InfraConfigError(f"{source}: {PROJECT}:{key}: {url!r} is not an http(s) URL")
        host = urlsplit(url).hostname or ""
        if environment in _REAL_ENVIRONMENTS and (host == "invalid" or host.endswith(".invalid")):
            raise InfraConfigError(
                f"{source}: {PROJECT}:{key}: {url!r} is a placeholder host; {environment} needs the real URL"
            )
    kwargs["runbook_base_url"] = kwargs["runbook_base_url"].rstrip("/")
    return InfraConfig(environment=environment, **kwargs)


def _check_backup(kwargs: Mapping[str, Any], source: str) -> None:
    """The backup settings a wrong value of would only show when the first backup fails."""
    url = kwargs.get("backup_endpoint_url", "")
    if not re.match(r"^https?://[^/\s]+", url):
        raise InfraConfigError(f"{source}: {PROJECT}:backupEndpointUrl: {url!r} is not an http(s) URL")
    if not re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", kwargs.get("backup_bucket", "")):
        raise InfraConfigError(f"{source}: {PROJECT}:backupBucket: not an S3 bucket name (lower case, 3-63 chars)")
    if kwargs.get("backup_encryption", "AES256") not in _BACKUP_ENCRYPTIONS:
        raise InfraConfigError(
            f"{source}: {PROJECT}:backupEncryption: must be one of {', '.join(_BACKUP_ENCRYPTIONS)} "
            "(encryption at rest)"
        )
    if not _RETENTION.match(kwargs.get("backup_retention", "30d")):
        raise InfraConfigError(f"{source}: {PROJECT}:backupRetention: must look like 30d, 6w or 3m (the PITR window)")
    if not _SCHEDULE.match(kwargs.get("backup_schedule", "0 0 1 * * *")):
        raise InfraConfigError(
            f"{source}: {PROJECT}:backupSchedule: CloudNativePG schedules have six fields (seconds first), "
            "e.g. '0 0 1 * * *'"
        )


def stack_file(environment: str, directory: Path | None = None) -> Path:
    """``infra/Pulumi.<env>.yaml``."""
    return (directory or infra_dir()) / f"Pulumi.{environment}.yaml"


def read_stack_values(environment: str, directory: Path | None = None) -> dict[str, Any]:
    """The ``epj-platform:`` keys of a stack file, prefix removed (other providers' keys are left out)."""
    path = stack_file(environment, directory)
    if not path.is_file():
        raise InfraConfigError(f"{path}: no stack file for environment {environment!r}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "unreadable"
        raise InfraConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    except ValueError as exc:  # a value YAML cannot build, e.g. the date 2030-02-30
        raise InfraConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise InfraConfigError(f"{path}: expected a mapping with a 'config:' key at the top level")
    config = raw.get("config") or {}
    if not isinstance(config, dict):
        raise InfraConfigError(f"{path}: config: must be a mapping")
    prefix = f"{PROJECT}:"
    # Secrets (``secure:`` values) are the Pulumi engine's to decrypt; the program reads them itself.
    return {
        key[len(prefix) :]: value
        for key, value in config.items()
        if key.startswith(prefix) and key[len(prefix) :] != BACKUP_CREDENTIALS_KEY
    }


def load_stack_config(environment: str, directory: Path | None = None) -> InfraConfig:
    """The checked config of one environment's stack file (what ``epj render`` uses)."""
    values = read_stack_values(environment, directory)
    return infra_config_from_mapping(environment, values, source=str(stack_file(environment, directory)))
