"""What each tenant is allocated, read from the rendered Kubernetes objects.

Showback charges what a municipality has reserved, not what a spreadsheet says:
the ResourceQuota the Pulumi program would create is the allocation. Reading the
rendered objects (not the sizing formula) keeps the bill and the cluster in step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from epj.report.cost import Resources

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1), "k": Decimal(10**3),
    "M": Decimal(10**6), "G": Decimal(10**9), "T": Decimal(10**12), "P": Decimal(10**15), "E": Decimal(10**18),
}  # fmt: skip
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")
GIB = Decimal(2**30)


def parse_quantity(value: str | int | float) -> Decimal:
    """A Kubernetes resource quantity ("500m", "2Gi", "1.5") as a plain number."""
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    number, suffix = Decimal(match.group(1)), match.group(2)
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    raise ValueError(f"unknown quantity suffix in {value!r}")


def allocations_from_objects(objects: Iterable[Mapping[str, Any]]) -> dict[str, Resources]:
    """Sum the ResourceQuota requests per tenant namespace (``kommune-<nr>``)."""
    totals: dict[str, list[Decimal]] = {}
    for obj in objects:
        if obj.get("kind") != "ResourceQuota":
            continue
        namespace = str(obj.get("metadata", {}).get("namespace", ""))
        if not re.fullmatch(r"kommune-[0-9]{4}", namespace):
            continue
        hard = obj.get("spec", {}).get("hard", {})
        cpu = parse_quantity(hard.get("requests.cpu", 0))
        memory = parse_quantity(hard.get("requests.memory", 0)) / GIB
        storage = parse_quantity(hard.get("requests.storage", 0)) / GIB
        sums = totals.setdefault(namespace.removeprefix("kommune-"), [Decimal(0)] * 3)
        sums[0] += cpu
        sums[1] += memory
        sums[2] += storage
    return {k: Resources(cpu_cores=v[0], memory_gib=v[1], storage_gib=v[2]) for k, v in sorted(totals.items())}
