"""A resume is dated and signed by the API server: the core rule the operator's webhook applies."""

from __future__ import annotations

import datetime as dt

import pytest

from epj.golive.approvals import ApprovalRefused, RoleMapping, admit_resume, resume_is_stamped

NOW = dt.datetime(2027, 9, 5, 9, 30, tzinfo=dt.UTC)
LEAD = ["epj-approver:cutover-lead"]


def test_a_new_resume_gets_the_servers_time_and_user() -> None:
    new = {"by": "cutover-lead", "reason": "  Re-run reconciled  ", "at": "2030-01-01T00:00:00Z", "user": "x"}
    stamped = admit_resume(new, None, user="kari@kommune.test", groups=LEAD, now=NOW, mapping=RoleMapping())
    assert stamped == {"by": "cutover-lead", "reason": "Re-run reconciled", "at": "2027-09-05T09:30:00Z",
                       "user": "kari@kommune.test"}  # fmt: skip


def test_an_untouched_resume_keeps_its_stamp_and_a_rewritten_one_is_a_new_request() -> None:
    old = {"by": "cutover-lead", "reason": "Re-run reconciled", "at": "2027-09-04T20:00:00Z", "user": "kari"}
    kept = admit_resume(dict(old), old, user="ola", groups=[], now=NOW, mapping=RoleMapping())
    assert kept == old
    # The same role and reason again (a second hold, resumed as the first was): stamped now, by this user.
    again = {**old, "at": "2027-09-05T09:29:00Z"}
    restamped = admit_resume(again, old, user="kari@kommune.test", groups=LEAD, now=NOW, mapping=RoleMapping())
    assert restamped == {"by": "cutover-lead", "reason": "Re-run reconciled", "at": "2027-09-05T09:30:00Z",
                         "user": "kari@kommune.test"}  # fmt: skip
    assert admit_resume(None, old, user="ola", groups=[], now=NOW, mapping=RoleMapping()) is None
    assert resume_is_stamped(None, old, user="ola") is True
    assert resume_is_stamped(old, old, user="ola") is True
    assert resume_is_stamped({**old, "reason": "Other"}, old, user="kari") is True
    assert resume_is_stamped({**old, "reason": "Other"}, old, user="ola") is False


@pytest.mark.parametrize(
    ("new", "user", "groups", "message"),
    [
        ({"by": "boss", "reason": "go on"}, "u", LEAD,
         "resume refused: spec.resume.by 'boss' is not a role; roles that resume: cutover-lead, project-lead"),
        ({"by": "cutover-lead", "reason": " ok "}, "u", LEAD,
         "resume refused: spec.resume.reason must say why (at least 3 characters)"),
        ({"by": "cutover-lead", "reason": "go on"}, "", LEAD,
         "resume refused: the request carries no authenticated user"),
        ({"by": "command-centre-lead", "reason": "go on"}, "u", ["epj-approver:command-centre-lead"],
         "resume refused: command-centre-lead does not resume a go-live; roles that do: cutover-lead, project-lead"),
        ({"by": "project-lead", "reason": "go on"}, "u", LEAD,
         "resume refused: your groups do not grant the role project-lead (they grant: cutover-lead); ask for "
         "membership of the group for project-lead, or resume with a role you hold"),
    ],
)  # fmt: skip
def test_a_resume_is_refused_with_one_plain_message(
    new: dict[str, str], user: str, groups: list[str], message: str
) -> None:
    with pytest.raises(ApprovalRefused) as refused:
        admit_resume(new, None, user=user, groups=groups, now=NOW, mapping=RoleMapping())
    assert str(refused.value) == message
