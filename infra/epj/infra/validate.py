"""Check rendered Kubernetes objects against schemas before anyone applies them.

What is checked how (say it plainly, reviewers rely on it):

- **Built-in kinds** (Namespace, Deployment, NetworkPolicy, RBAC, CRDs …): the upstream
  Kubernetes OpenAPI schema shipped by ``kubernetes-validate`` for the pinned
  Kubernetes version (:data:`KUBERNETES_VERSION`), in *strict* mode (unknown
  fields are errors, so a misspelt ``readOnlyRootFIlesystem`` cannot slip
  through). kubernetes-validate reports the first error per object.
- **Our own custom kinds** (``epj.no``: RolloutWave, GoLive, MigrationJob): the
  ``openAPIV3Schema`` of their CRD (the CRDs in the object list, or passed in),
  all errors, with format checks (``date``, ``date-time``) where jsonschema has them.
- **Third-party custom kinds** without a CRD here (CloudNativePG ``Cluster`` and
  ``ScheduledBackup``, the Barman Cloud plugin's ``ObjectStore``,
  prometheus-operator ``ServiceMonitor``, ``PodMonitor``, ``PrometheusRule``): a
  small hand-written structural schema of *the fields this platform sets* (types,
  required fields, quantity and duration formats). It is not the upstream CRD
  schema: a wrong field name elsewhere in those objects is not caught here.
- **Every object**: metadata name and namespace are DNS-1123 names, label keys
  and values have the Kubernetes syntax. An object of a kind with no schema at
  all is an error, never silently accepted.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import jsonschema

from epj.infra.manifests import KUBERNETES_VERSION

Manifest = Mapping[str, Any]

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

_QUANTITY = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$"}
_DURATION = {
    "type": "string",
    "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$",
}
_STR_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_SELECTOR = {
    "type": "object",
    "properties": {
        "matchLabels": _STR_MAP,
        "matchExpressions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "operator"],
                "properties": {
                    "key": {"type": "string"},
                    "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                    "values": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}
_RELABELINGS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "action": {
                "enum": [
                    "replace",
                    "Replace",
                    "keep",
                    "Keep",
                    "drop",
                    "Drop",
                    "hashmod",
                    "HashMod",
                    "labelmap",
                    "LabelMap",
                    "labeldrop",
                    "LabelDrop",
                    "labelkeep",
                    "LabelKeep",
                    "lowercase",
                    "Lowercase",
                    "uppercase",
                    "Uppercase",
                    "keepequal",
                    "KeepEqual",
                    "dropequal",
                    "DropEqual",
                ]
            },
            "targetLabel": {"type": "string"},
            "replacement": {"type": "string"},
            "sourceLabels": {"type": "array", "items": {"type": "string"}},
            "regex": {"type": "string"},
        },
    },
}
_RESOURCES = {
    "type": "object",
    "properties": {
        "requests": {"type": "object", "additionalProperties": _QUANTITY},
        "limits": {"type": "object", "additionalProperties": _QUANTITY},
    },
}

_SECRET_KEY_REF = {
    "type": "object",
    "required": ["name", "key"],
    "properties": {"name": {"type": "string"}, "key": {"type": "string"}},
}
_BARMAN_PART = {
    "type": "object",
    "properties": {
        "compression": {"enum": ["bzip2", "gzip", "lz4", "snappy", "xz", "zstd"]},
        "encryption": {"enum": ["AES256", "aws:kms"]},
        "maxParallel": {"type": "integer", "minimum": 1},
        "jobs": {"type": "integer", "minimum": 1},
    },
}

#: Minimal structural schemas of the third-party kinds (only the fields this platform uses are typed).
MINIMAL_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("postgresql.cnpg.io/v1", "Cluster"): {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "spec": {
                "type": "object",
                "required": ["instances", "storage"],
                "properties": {
                    "instances": {"type": "integer", "minimum": 1},
                    "imageName": {"type": "string", "minLength": 1},
                    "primaryUpdateStrategy": {"enum": ["unsupervised", "supervised"]},
                    "enableSuperuserAccess": {"type": "boolean"},
                    "storage": {
                        "type": "object",
                        "required": ["size"],
                        "properties": {"size": _QUANTITY, "storageClass": {"type": "string"}},
                    },
                    "resources": _RESOURCES,
                    "bootstrap": {
                        "type": "object",
                        "properties": {
                            "initdb": {
                                "type": "object",
                                "required": ["database", "owner"],
                                "properties": {
                                    "database": {"type": "string"},
                                    "owner": {"type": "string"},
                                    "secret": {
                                        "type": "object",
                                        "required": ["name"],
                                        "properties": {"name": {"type": "string"}},
                                    },
                                },
                            }
                        },
                    },
                    "affinity": {
                        "type": "object",
                        "properties": {
                            "enablePodAntiAffinity": {"type": "boolean"},
                            "topologyKey": {"type": "string"},
                            "podAntiAffinityType": {"enum": ["preferred", "required"]},
                        },
                    },
                    "inheritedMetadata": {
                        "type": "object",
                        "properties": {"labels": _STR_MAP, "annotations": _STR_MAP},
                    },
                    "plugins": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {
                                "name": {"type": "string"},
                                "isWALArchiver": {"type": "boolean"},
                                "parameters": _STR_MAP,
                            },
                        },
                    },
                },
            }
        },
    },
    ("barmancloud.cnpg.io/v1", "ObjectStore"): {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "spec": {
                "type": "object",
                "required": ["configuration"],
                "properties": {
                    "retentionPolicy": {"type": "string", "pattern": "^[1-9][0-9]*[dwm]$"},
                    "configuration": {
                        "type": "object",
                        "required": ["destinationPath"],
                        "properties": {
                            "destinationPath": {"type": "string", "pattern": "^s3://"},
                            "endpointURL": {"type": "string", "pattern": "^https?://"},
                            "s3Credentials": {
                                "type": "object",
                                "properties": {
                                    "accessKeyId": _SECRET_KEY_REF,
                                    "secretAccessKey": _SECRET_KEY_REF,
                                },
                            },
                            "wal": _BARMAN_PART,
                            "data": _BARMAN_PART,
                        },
                    },
                },
            }
        },
    },
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "spec": {
                "type": "object",
                "required": ["schedule", "cluster"],
                "properties": {
                    "schedule": {"type": "string", "pattern": r"^\S+( \S+){5}$"},
                    "immediate": {"type": "boolean"},
                    "backupOwnerReference": {"enum": ["none", "self", "cluster"]},
                    "cluster": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
                    "method": {"enum": ["barmanObjectStore", "volumeSnapshot", "plugin"]},
                    "pluginConfiguration": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {"name": {"type": "string"}, "parameters": _STR_MAP},
                    },
                },
            }
        },
    },
    # cert-manager: the operator's webhook certificate (epj.operator.deploy.webhook_manifests).
    ("cert-manager.io/v1", "Issuer"): {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "spec": {
                "type": "object",
                "minProperties": 1,
                "properties": {"selfSigned": {"type": "object"}, "ca": {"type": "object"}},
            }
        },
    },
    ("cert-manager.io/v1", "Certificate"): {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "spec": {
                "type": "object",
                "required": ["secretName", "issuerRef", "dnsNames"],
                "properties": {
                    "secretName": {"type": "string", "minLength": 1},
                    "dnsNames": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                    "duration": _DURATION,
                    "renewBefore": _DURATION,
                    "issuerRef": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {"name": {"type": "string"}, "kind": {"enum": ["Issuer", "ClusterIssuer"]}},
                    },
                },
            }
        },
    },
    ("monitoring.coreos.com/v1", "ServiceMonitor"): {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "spec": {
                "type": "object",
                "required": ["selector", "endpoints"],
                "properties": {
                    "selector": _SELECTOR,
                    "namespaceSelector": {
                        "type": "object",
                        "properties": {"any": {"type": "boolean"}, "matchNames": {"type": "array"}},
                    },
                    "endpoints": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "properties": {
                                "port": {"type": "string"},
                                "path": {"type": "string", "pattern": "^/"},
                                "interval": _DURATION,
                                "relabelings": _RELABELINGS,
                            },
                        },
                    },
                },
            }
        },
    },
    ("monitoring.coreos.com/v1", "PodMonitor"): {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "spec": {
                "type": "object",
                "required": ["selector", "podMetricsEndpoints"],
                "properties": {
                    "selector": _SELECTOR,
                    "podMetricsEndpoints": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "properties": {
                                "port": {"type": "string"},
                                "interval": _DURATION,
                                "relabelings": _RELABELINGS,
                            },
                        },
                    },
                },
            }
        },
    },
    ("monitoring.coreos.com/v1", "PrometheusRule"): {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "spec": {
                "type": "object",
                "required": ["groups"],
                "properties": {
                    "groups": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["name", "rules"],
                            "properties": {
                                "name": {"type": "string", "minLength": 1},
                                "interval": _DURATION,
                                "rules": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["expr"],
                                        "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
                                        "properties": {
                                            "alert": {"type": "string"},
                                            "record": {"type": "string"},
                                            "expr": {"type": ["string", "integer"]},
                                            "for": _DURATION,
                                            "labels": _STR_MAP,
                                            "annotations": _STR_MAP,
                                        },
                                    },
                                },
                            },
                        },
                    }
                },
            }
        },
    },
}


def describe(obj: Manifest) -> str:
    """``Kind namespace/name`` for error messages."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind', '?')} {ns + '/' if ns else ''}{meta.get('name', '?')}"


def _path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(object)"


def _metadata_errors(obj: Manifest) -> list[str]:
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping):
        return ["metadata: missing"]
    errors: list[str] = []
    name = meta.get("name")
    kind = obj.get("kind")
    # Namespaces and Services are DNS-1123 labels; most other names may be subdomains.
    pattern = _DNS1123_LABEL if kind in ("Namespace", "Service") else _DNS1123_SUBDOMAIN
    if not isinstance(name, str) or len(name) > 253 or not pattern.match(name):
        errors.append(f"metadata.name: {name!r} is not a valid DNS-1123 name")
    ns = meta.get("namespace")
    if ns is not None and (not isinstance(ns, str) or len(ns) > 63 or not _DNS1123_LABEL.match(ns)):
        errors.append(f"metadata.namespace: {ns!r} is not a valid DNS-1123 label")
    for key, value in (meta.get("labels") or {}).items():
        prefix, _, label = key.rpartition("/")
        if len(label) > 63 or not _LABEL_NAME.match(label) or (prefix and not _DNS1123_SUBDOMAIN.match(prefix)):
            errors.append(f"metadata.labels: key {key!r} is not a valid label name")
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            errors.append(f"metadata.labels.{key}: value {value!r} is not a valid label value")
    return errors


def crd_schemas(crds: Iterable[Manifest]) -> dict[tuple[str, str], dict[str, Any]]:
    """``{(apiVersion, kind): openAPIV3Schema}`` for every served version of the given CRDs."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for crd in crds:
        spec = crd["spec"]
        for version in spec["versions"]:
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            if schema is not None:
                out[(f"{spec['group']}/{version['name']}", spec["names"]["kind"])] = schema
    return out


def _schema_errors(obj: Manifest, schema: Mapping[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return [f"{_path(e)}: {e.message}" for e in sorted(validator.iter_errors(obj), key=lambda e: list(e.path))]


def _schema_dir(kubernetes_version: str) -> str:
    """The bundled schema folder for a version (``v1.31.0-local-strict``); errors name the versions there are."""
    from importlib import resources

    root = resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
    wanted = kubernetes_version.removeprefix("v")
    names = sorted(p.name for p in root.iterdir() if p.name.endswith("-local-strict"))
    for name in names:
        if name.startswith(f"v{wanted}.") or name == f"v{wanted}-local-strict":
            return name
    shipped = ", ".join(n.removeprefix("v").removesuffix(".0-local-strict") for n in names)
    raise ValueError(f"kubernetes-validate ships no schema for Kubernetes {kubernetes_version} (it has {shipped})")


@functools.lru_cache(maxsize=64)
def _builtin_validator(schema_dir: str, filename: str) -> jsonschema.protocols.Validator | None:
    """A cached validator for one built-in kind (loading the shared definitions once, not per object)."""
    import json
    from importlib import resources

    from referencing import Registry, Resource

    folder = resources.files("kubernetes_validate").joinpath("kubernetes-json-schema", schema_dir)
    schema_file = folder.joinpath(filename)
    if not schema_file.is_file():
        return None
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    definitions = json.loads(folder.joinpath("_definitions.json").read_text(encoding="utf-8"))
    registry: Registry[Any] = Resource.from_contents(definitions) @ Registry()
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _builtin_errors(obj: Manifest, kubernetes_version: str) -> list[str] | None:
    """Errors against the upstream schema bundled by kubernetes-validate (strict), or None without one.

    Same file lookup as ``kubernetes_validate.validate`` (``<kind>-<group>-<version>.json``), but the
    validators are cached and every error is reported, not only the first.
    """
    api_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", str(obj.get("apiVersion")))
    validator = _builtin_validator(
        _schema_dir(kubernetes_version), f"{str(obj.get('kind')).lower()}-{api_version}.json"
    )
    if validator is None:
        return None
    return [
        f"{_path(e)}: {e.message} (Kubernetes {kubernetes_version} schema)"
        for e in sorted(validator.iter_errors(dict(obj)), key=lambda e: [str(p) for p in e.path])
    ]


def validate_objects(
    objs: Sequence[Manifest],
    kubernetes_version: str = KUBERNETES_VERSION,
    crds: Iterable[Manifest] = (),
) -> list[str]:
    """Every problem in ``objs`` as ``"<Kind> <ns>/<name>: <path>: <reason>"``; empty when all are valid.

    Custom kinds are checked against the CRDs among ``objs`` plus ``crds``; CloudNativePG and
    prometheus-operator kinds against :data:`MINIMAL_SCHEMAS`.
    """
    custom = crd_schemas([*crds, *(o for o in objs if o.get("kind") == "CustomResourceDefinition")])
    problems: list[str] = []
    for obj in objs:
        where = describe(obj)
        errors = _metadata_errors(obj)
        key = (str(obj.get("apiVersion")), str(obj.get("kind")))
        if key in custom:
            errors += _schema_errors(obj, custom[key])
        elif key in MINIMAL_SCHEMAS:
            errors += _schema_errors(obj, MINIMAL_SCHEMAS[key])
        else:
            builtin = _builtin_errors(obj, kubernetes_version)
            if builtin is None:
                errors.append(f"no schema known for {key[0]} {key[1]} (neither built-in, CRD nor minimal schema)")
            else:
                errors += builtin
        problems += [f"{where}: {e}" for e in errors]
    return problems
