"""Wake the MigrationJob or GoLive a batch Job reports to as soon as the Job changes.

Why a watch: during a cutover night every tenant waits for its Jobs (migration, smoke check,
rollback). Polling each one often enough for a project lead to see a result within a second
would ask the API server (and the reconcile slots) for hundreds of reads a second with a whole
wave in Cutover; one label-selected watch over the Jobs this operator created costs one stream.

The watch only wakes: the woken reconcile still GETs the Job and decides on what the API
server holds then, so a missed or duplicated event changes when a decision is taken, never
which. The daemons keep a slow poll (``job_poll_seconds``) as the safety net for a broken
stream and for pods that cannot start (a pod stuck in ImagePullBackOff does not change its Job).

Who is woken comes from the Job's labels (:mod:`epj.operator.resources`): a migration Job wakes
its MigrationJob (which wakes the GoLive once it has recorded the result), a smoke-check or
rollback Job wakes its GoLive.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

import aiohttp

from epj.operator import resources
from epj.operator.context import OperatorContext
from epj.operator.kube import JOBS, ApiError, Body

logger = logging.getLogger(__name__)

#: The Jobs this operator creates (and only those) carry this label.
SELECTOR = f"app.kubernetes.io/managed-by={resources.MANAGED_BY}"
#: How long one watch request may stay open (the API server ends it then; the next resumes).
WATCH_SECONDS = 300


class JobWatch:
    """Follows the operator's batch Jobs cluster-wide and wakes their owners (see the module docstring)."""

    def __init__(self, ctx: OperatorContext) -> None:
        self.ctx = ctx
        #: The status each Job had when last seen, by uid: wake only when it changes (not on metadata edits
        #: or the initial list replayed after a reconnect).
        self._statuses: dict[str, Any] = {}
        self._resource_version: str | None = None
        #: Events that woke someone (tests read it to know the watch is live).
        self.wakes = 0

    async def run(self) -> None:
        """Watch until cancelled; reconnect after errors with a capped backoff.

        A refusal (403: RBAC without list/watch on Jobs) is logged once, not at every retry: the operator then
        follows Jobs by polling, which on-call needs to read once, not every minute of the night. Any other
        error is retried too (a watch that ended for good would leave only the slow poll, silently).
        """
        failures = 0
        forbidden_reported = False
        while True:
            try:
                async for event in self.ctx.client.watch(
                    JOBS, None, label_selector=SELECTOR, resource_version=self._resource_version,
                    timeout_seconds=WATCH_SECONDS,
                ):  # fmt: skip
                    failures = 0
                    if not self.handle(event):
                        break
            except asyncio.CancelledError:
                raise
            except ApiError as error:
                failures += 1
                if error.status == 410:
                    # The version to resume from is too old (refused as the answer, not as an ERROR event).
                    self._resource_version = None
                if error.status == 403:
                    if not forbidden_reported:
                        logger.warning(
                            "the operator may not watch batch Jobs (RBAC); it follows them by polling every %ss "
                            "instead",
                            self.ctx.job_poll_seconds,
                        )
                    forbidden_reported = True
                else:
                    logger.warning("watching Jobs failed (%s); retrying", error)
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as error:
                failures += 1
                logger.warning("watching Jobs failed (%s: %s); retrying", type(error).__name__, error)
            except Exception:
                failures += 1
                logger.exception("watching Jobs failed unexpectedly; retrying")
            else:
                failures = 0
                if forbidden_reported:
                    logger.info("watching batch Jobs again")
                forbidden_reported = False
            await asyncio.sleep(min(1.0 * 2 ** max(failures - 1, 0), 60.0) if failures else 0)

    def handle(self, event: Body) -> bool:
        """Take one watch event; False when the stream must be restarted from a fresh list."""
        kind = event.get("type")
        job = event.get("object") or {}
        meta = job.get("metadata") or {}
        if kind == "ERROR":
            # 410 Gone: the resource version is too old; start again from the current state.
            self._resource_version = None
            return False
        if meta.get("resourceVersion"):
            self._resource_version = str(meta["resourceVersion"])
        if kind == "BOOKMARK" or not meta.get("uid"):
            return True
        labels = meta.get("labels") or {}
        if labels.get("app.kubernetes.io/managed-by") != resources.MANAGED_BY:
            return True  # a server that ignores the selector (the test emulator) sends every Job
        uid = str(meta["uid"])
        status = job.get("status") or {}
        if kind == "DELETED":
            self._statuses.pop(uid, None)
        elif self._statuses.get(uid, {}) == status:
            return True
        else:
            self._statuses[uid] = status
        if self.wake_owner(labels):
            self.wakes += 1
        return True

    def wake_owner(self, labels: dict[str, str]) -> bool:
        """Wake the object this Job reports to, in each namespace the operator serves it from."""
        role = labels.get(resources.ROLE_LABEL)
        owner = labels.get(resources.MIGRATION_JOB_LABEL if role == "migration" else resources.GOLIVE_LABEL)
        if not owner:
            return False
        woken = False
        for namespace in self._namespaces():
            if (namespace, owner) in self.ctx.wakers:
                self.ctx.wake(namespace, owner)
                woken = True
        return woken

    def _namespaces(self) -> Iterable[str]:
        return {namespace for namespace, _ in list(self.ctx.wakers)}
