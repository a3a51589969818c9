"""How the phase machine takes a resume the API server stamped: who may resume, and when it is acted on.

The webhook stamps ``spec.resume.at`` with the clock of the operator pod that served the admission request;
the pod that reconciles may be another replica whose clock is a moment behind. Hand-built states of tenant
5035, held on 6 Sep 2027 02:00 UTC; expectations written out by hand.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from epj.golive import Decision, EmitEvent, GoLiveSpec, GoLiveState, Observations, Phase, ResumeRequest, decide
from epj.golive.approvals import ApprovalRefused, RoleMapping, admit_resume
from epj.golive.phases import ApproverRole
from epj.golive.scenario import parse_scenario

UTC = dt.UTC
SPEC = GoLiveSpec(kommunenummer="5035", wave="w", go_live_date=dt.date(2027, 9, 6))
HELD_AT = dt.datetime(2027, 9, 6, 2, tzinfo=UTC)
NOW = HELD_AT + dt.timedelta(hours=3)


def _held() -> GoLiveState:
    state = GoLiveState.initial(HELD_AT).model_copy(
        update={"phase": Phase.ON_HOLD, "window_start": HELD_AT, "wave": "w", "held_from": Phase.FREEZE,
                "held_at": HELD_AT, "approvals_since": HELD_AT}
    )  # fmt: skip
    return GoLiveState.from_status(json.loads(json.dumps(state.to_status())))


def _with_resume(by: ApproverRole, at: dt.datetime) -> GoLiveSpec:
    return SPEC.model_copy(update={"resume": ResumeRequest(by=by, at=at, reason="Extract re-run, reconciled")})


def _warnings(decision: Decision) -> list[tuple[str, str]]:
    return [(a.reason, a.message) for a in decision.actions if isinstance(a, EmitEvent) and a.type == "Warning"]


def test_a_resume_stamped_a_moment_ahead_of_this_clock_is_acted_on_when_due() -> None:
    """Stamped by a replica whose clock runs 2 s ahead: nothing else will wake a held tenant, so the machine does."""
    stamped = NOW + dt.timedelta(seconds=2)
    spec = _with_resume(ApproverRole.PROJECT_LEAD, stamped)
    waiting = decide(spec, _held(), Observations(), NOW)
    assert waiting.phase == Phase.ON_HOLD
    assert waiting.state.next_wake_at == stamped
    resumed = decide(spec, waiting.state, Observations(), stamped)
    assert resumed.phase == Phase.FREEZE
    # A resume from before the hold wakes nothing: it never acts.
    stale = decide(_with_resume(ApproverRole.PROJECT_LEAD, HELD_AT), _held(), Observations(), NOW)
    assert stale.phase == Phase.ON_HOLD and stale.state.next_wake_at is None


def test_a_resume_by_a_role_that_does_not_resume_is_not_acted_on_and_said_once() -> None:
    """The webhook refuses it; one that reached the spec anyway (webhook bypassed) holds, with one Warning."""
    spec = _with_resume(ApproverRole.SERVICE_OWNER, NOW)
    first = decide(spec, _held(), Observations(), NOW)
    assert first.phase == Phase.ON_HOLD
    assert _warnings(first) == [
        (
            "ResumeNotCounted",
            "resume by service-owner does not count: service-owner does not resume a go-live "
            "(roles that do: cutover-lead, project-lead)",
        )
    ]
    again = decide(spec, first.state, Observations(), NOW + dt.timedelta(minutes=5))
    assert again.phase == Phase.ON_HOLD and _warnings(again) == []
    assert decide(_with_resume(ApproverRole.CUTOVER_LEAD, NOW), _held(), Observations(), NOW).phase == Phase.FREEZE


def test_a_scenario_resume_names_a_role_that_resumes() -> None:
    """Both adapters play the same scenario: a resume the operator's webhook refuses is refused when loaded."""
    data = {
        "wave": {"name": "w", "goLiveDate": "2027-09-06", "members": [{"kommunenummer": "5035"}]},
        "defaults": {"levers": [{"at": "+1d", "resume": {"by": "clinical-lead", "reason": "looks fine"}}]},
    }
    with pytest.raises(ValueError, match="clinical-lead does not resume a go-live"):
        parse_scenario(data, source="s.yaml")


@pytest.mark.parametrize("resume", ["now", ["project-lead"], 5])  # before the schema: not an object
def test_a_resume_that_is_not_an_object_is_refused_with_one_plain_message(resume: object) -> None:
    with pytest.raises(ApprovalRefused) as refused:
        admit_resume(resume, None, user="u", groups=["epj-approver:project-lead"], now=NOW,  # type: ignore[arg-type]
                     mapping=RoleMapping())  # fmt: skip
    assert str(refused.value) == "resume refused: spec.resume must be an object with by and reason"


def test_a_resume_reason_longer_than_the_schema_allows_is_refused_by_the_webhook() -> None:
    """Admission runs before the schema: say it plainly (the operator must never hold a spec it cannot read)."""
    with pytest.raises(ApprovalRefused) as refused:
        admit_resume({"by": "project-lead", "reason": "x" * 501}, None, user="u", groups=["epj-approver:project-lead"],
                     now=NOW, mapping=RoleMapping())  # fmt: skip
    assert str(refused.value) == "resume refused: spec.resume.reason must be at most 500 characters"
    ok = admit_resume({"by": "project-lead", "reason": "x" * 500}, None, user="u",
                      groups=["epj-approver:project-lead"], now=NOW, mapping=RoleMapping())  # fmt: skip
    assert ok is not None and len(ok["reason"]) == 500


@pytest.mark.parametrize(
    ("resume", "message"),
    [
        ({}, "resume refused: spec.resume.by None is not a role; roles that resume: cutover-lead, project-lead"),
        ({"by": "project-lead", "reason": ["not", "text"]},
         "resume refused: spec.resume.reason must say why (at least 3 characters)"),
    ],
)  # fmt: skip
def test_an_empty_resume_or_one_without_a_text_reason_is_refused(resume: dict[str, object], message: str) -> None:
    """An empty object is a write of spec.resume that says nothing: refused, never stored for the operator to read."""
    with pytest.raises(ApprovalRefused) as refused:
        admit_resume(resume, None, user="u", groups=["epj-approver:project-lead"], now=NOW, mapping=RoleMapping())
    assert str(refused.value) == message
