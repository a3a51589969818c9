"""brk3: the operator's diff-base essence equals kopf's own on the odd bodies an API server or a person produces.

No metadata, annotations or labels given as null or empty, kopf's and other operators' annotations, the
ReplicaSet case kopf marks, and extra fields asked for: whatever kopf's ``build`` returns, ours returns too
(a different essence would make kopf see a spec change that did not happen, or miss one); where kopf refuses
a body, so does ours.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

import kopf
import pytest

from epj.operator.runner import EssenceStorage

ANNOTATIONS = {
    "epj.no/last-handled-configuration": "{}",
    "epj.no/something-else": "1",
    "kubectl.kubernetes.io/last-applied-configuration": "{}",
    "other.io/last-handled-configuration": "{}",
    "kopf.zalando.org/touch-dummy": "x",
    "keep": "yes",
}
BODIES: list[dict[str, Any]] = [
    {},
    {"spec": {"a": 1}},
    {"metadata": {}},
    {"metadata": {"annotations": None}},
    {"metadata": {"labels": None, "annotations": {}}},
    {"metadata": {"name": "g", "labels": {"x": "y"}, "annotations": dict(ANNOTATIONS), "managedFields": [{}]},
     "spec": {"s": 1}, "status": {"phase": "Live"}},
    {"apiVersion": "v1", "kind": "X", "spec": None, "status": None},
    {"metadata": {"name": "g", "finalizers": ["epj.no/golive-operator"], "deletionTimestamp": "2027-09-06T00:00:00Z"},
     "spec": {}},
    {"kind": "ReplicaSet", "metadata": {"ownerReferences": [{"kind": "Deployment", "name": "d"}],
                                        "annotations": {"epj.no/last-handled-configuration-ofDRS": "{}",
                                                        "epj.no/last-handled-configuration": "{}"}}},
    {"kind": "ReplicaSet", "metadata": {"ownerReferences": []}},
]  # fmt: skip
EXTRAS: list[list[Any] | None] = [None, [], ["status.phase"], ["metadata.name"], ["metadata.annotations"]]


@pytest.mark.parametrize(
    ("body", "extra"), list(itertools.product(BODIES, EXTRAS)), ids=lambda v: str(v)[:40] if v is not None else "none"
)
def test_the_essence_is_kopfs_own_on_odd_bodies(body: dict[str, Any], extra: list[Any] | None) -> None:
    ours = EssenceStorage(prefix="epj.no", key="last-handled-configuration")
    kopfs = kopf.AnnotationsDiffBaseStorage(prefix="epj.no", key="last-handled-configuration")
    original = copy.deepcopy(body)
    assert _outcome(ours, body, extra) == _outcome(kopfs, copy.deepcopy(body), extra)
    assert body == original  # nothing of the watched body is changed


def _outcome(storage: kopf.DiffBaseStorage, body: dict[str, Any], extra: list[Any] | None) -> tuple[str, object]:
    """The essence, or the kind of error (kopf itself refuses a few bodies, e.g. ``annotations: null``)."""
    try:
        return "built", storage.build(body=kopf.Body(body), extra_fields=extra)  # type: ignore[arg-type]
    except (TypeError, AttributeError, KeyError) as error:
        return "refused", type(error).__name__
