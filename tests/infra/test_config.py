"""Stack configuration: both stack files load; wrong values are named by file and key."""

from __future__ import annotations

import pytest

from epj.infra.config import InfraConfigError, infra_config_from_mapping, load_stack_config

DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32
BASE = {
    "imageRegistry": "r.example/vendor",
    "imageTag": "1.0",
    "imageDigests": {"epj/journal": DIGEST},
    "operatorImage": f"r.example/epj:1@{DIGEST}",
    "postgresImage": f"r.example/cnpg/postgresql:16.4@{OTHER}",
    "healthNetworkCidrs": ["100.64.0.0/16"],
    "apiServerCidrs": ["192.168.0.10/32"],
    "apiServerServiceCidrs": ["10.0.0.1/32"],
    "kubeContext": "ctx",
    "ingressDomain": "epj.example",
    "certIssuer": "ca",
    "backupEndpointUrl": "https://s3.example.no",
    "backupBucket": "epj-backup-test",
    "backupEndpointCidrs": ["10.41.8.0/24"],
    "runbookBaseUrl": "https://git.example.no/epj-platform/-/blob/main",
}


@pytest.mark.parametrize("env", ["test", "prod"])
def test_stack_files_load(env: str) -> None:
    config = load_stack_config(env)
    assert config.environment == env
    assert config.image("epj/journal").startswith(f"{config.image_registry}/epj/journal:{config.image_tag}@sha256:")
    assert "@sha256:" in config.operator_image and "@sha256:" in config.postgres_image
    assert config.postgres_image.startswith(config.registry_host + "/")
    assert "{kommunenummer}" not in config.admin_group("5035") and "5035" in config.admin_group("5035")


def test_pulumi_style_json_strings_are_decoded() -> None:
    values = {**BASE, "healthNetworkCidrs": '["100.64.0.0/16"]', "healthNetworkPorts": "[443]", "apiServerPort": "443"}
    config = infra_config_from_mapping("test", values)
    assert config.health_network_cidrs == ("100.64.0.0/16",)
    assert config.health_network_ports == (443,)
    assert config.api_server_port == 443


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"imageTag": None}, "missing required key.*epj-platform:imageTag"),
        ({"healthNetworkCidrs": ["not-a-cidr"]}, "healthNetworkCidrs: 'not-a-cidr' is not a CIDR"),
        ({"healthNetworkCidrs": []}, "healthNetworkCidrs: must be a non-empty list"),
        ({"adminGroupPattern": "admins"}, "adminGroupPattern: must contain"),
        ({"imagetag": "x"}, "unknown key.*epj-platform:imagetag"),
        ({"apiServerPort": "https"}, "apiServerPort: must be a port number"),
        ({"kubeContext": None}, "missing required key.*epj-platform:kubeContext"),
        ({"imageDigests": None}, "missing required key.*epj-platform:imageDigests"),
        ({"postgresImage": "ghcr.io/cloudnative-pg/postgresql:16.4"}, "postgresImage: .* is not pinned by digest"),
        ({"operatorImage": "r.example/epj:1"}, "operatorImage: .* is not pinned by digest"),
        ({"apiServerServiceCidrs": ["10.96.0.1"]}, None),
        ({"certIssuerKind": "Vault"}, "certIssuerKind: must be ClusterIssuer or Issuer"),
        ({"backupBucket": None}, "missing required key.*epj-platform:backupBucket"),
        ({"backupEndpointUrl": "s3.example.no"}, "backupEndpointUrl: 's3.example.no' is not an http"),
        ({"backupBucket": "Epj_Backups"}, "backupBucket: not an S3 bucket name"),
        ({"backupEndpointCidrs": ["s3.example.no"]}, "backupEndpointCidrs: 's3.example.no' is not a CIDR"),
        ({"backupEncryption": "none"}, "backupEncryption: must be one of AES256, aws:kms"),
        ({"backupRetention": "30 days"}, "backupRetention: must look like 30d"),
        ({"backupSchedule": "0 1 * * *"}, "backupSchedule: CloudNativePG schedules have six fields"),
    ],
)
def test_bad_values_are_named(change: dict[str, object], message: str | None) -> None:
    values = {**BASE, **change}
    values = {k: v for k, v in values.items() if v is not None}
    if message is None:  # a bare address is a /32 network: accepted
        infra_config_from_mapping("test", values, source="Pulumi.test.yaml")
        return
    with pytest.raises(InfraConfigError, match=message):
        infra_config_from_mapping("test", values, source="Pulumi.test.yaml")


def test_missing_stack_file_is_named() -> None:
    with pytest.raises(InfraConfigError, match=r"Pulumi\.staging\.yaml: no stack file"):
        load_stack_config("staging")


def test_every_image_is_pinned_by_digest_and_no_checkov_skip_remains() -> None:
    from epj.catalog import load_catalog
    from epj.infra.manifests import deployment
    from epj.tenants import load_tenants
    from epj.tenants.sizing import tenant_sizing

    config = infra_config_from_mapping("test", BASE)
    tenant = load_tenants().get("5035")
    sizing = tenant_sizing(tenant, load_catalog())
    pinned = deployment(tenant, sizing.service("journal"), config)
    container = pinned["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"r.example/vendor/epj/journal:1.0@{DIGEST}"
    assert "annotations" not in pinned["metadata"]
    # An image without a digest is refused, naming the key and the image (never rendered by tag).
    with pytest.raises(InfraConfigError, match=r"imageDigests has no digest for 'epj/chat'"):
        deployment(tenant, sizing.service("secure-chat"), config)


def test_a_malformed_digest_is_named() -> None:
    with pytest.raises(InfraConfigError, match=r"imageDigests\.epj/journal: 'sha256:xyz' is not"):
        infra_config_from_mapping("test", {**BASE, "imageDigests": {"epj/journal": "sha256:xyz"}})


def test_prod_refuses_a_placeholder_runbook_host_and_test_accepts_it() -> None:
    values = {**BASE, "runbookBaseUrl": "https://epj-platform.invalid/blob/main"}
    with pytest.raises(InfraConfigError, match=r"runbookBaseUrl: .*placeholder host; prod needs the real URL"):
        infra_config_from_mapping("prod", values, source="Pulumi.prod.yaml")
    assert infra_config_from_mapping("test", values).runbook_base_url == "https://epj-platform.invalid/blob/main"


def test_runbook_base_url_is_required_and_trailing_slash_is_dropped() -> None:
    without = {k: v for k, v in BASE.items() if k != "runbookBaseUrl"}
    with pytest.raises(InfraConfigError, match=r"missing required key.*epj-platform:runbookBaseUrl"):
        infra_config_from_mapping("test", without)
    config = infra_config_from_mapping("test", {**BASE, "runbookBaseUrl": "https://git.example.no/x/-/blob/main/"})
    assert config.runbook_base_url == "https://git.example.no/x/-/blob/main"


def test_migration_image_defaults_to_the_operator_image_and_urls_are_checked() -> None:
    assert infra_config_from_mapping("test", BASE).effective_migration_image == f"r.example/epj:1@{DIGEST}"
    other = infra_config_from_mapping("test", {**BASE, "migrationImage": f"r.example/migrate:2@{OTHER}"})
    assert other.effective_migration_image == f"r.example/migrate:2@{OTHER}"
    with pytest.raises(InfraConfigError, match=r"migrationImage: 'r.example/migrate:2' is not pinned by digest"):
        infra_config_from_mapping("test", {**BASE, "migrationImage": "r.example/migrate:2"})
    with pytest.raises(InfraConfigError, match=r"integrationProbeUrls\.kjernejournal: 'ftp://x' is not an http"):
        infra_config_from_mapping("test", {**BASE, "integrationProbeUrls": {"kjernejournal": "ftp://x"}})
    with pytest.raises(InfraConfigError, match=r"alertmanagerUrl: 'alertmanager:9093' is not an http"):
        infra_config_from_mapping("test", {**BASE, "alertmanagerUrl": "alertmanager:9093"})


def test_the_prod_stack_file_points_runbooks_and_alertmanager_somewhere_real() -> None:
    config = load_stack_config("prod")
    assert ".invalid" not in config.runbook_base_url
    assert config.alertmanager_url.startswith("http://alertmanager-operated.epj-monitoring.svc:")
    assert config.effective_migration_image.startswith("registry.epj.example.no/")
