"""Kubernetes Events on our objects (one helper, so every adapter posts them the same way)."""

from __future__ import annotations

from typing import Any, cast

from epj.operator.kube import Body


def post_event(body: Body, type_: str, reason: str, message: str) -> None:
    """A Kubernetes Event on the object (kopf posts it in the background)."""
    import kopf

    kopf.event(kopf.Body(cast(Any, body)), type=type_, reason=reason, message=message)  # RawBody is a TypedDict
