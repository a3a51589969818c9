"""GP offices are private actors in the cost model; estimated populations are marked in every cost output."""

from __future__ import annotations

import json
from decimal import Decimal

from typer.testing import CliRunner

from epj.cli import app
from epj.report.cost import GpOfficeFacts, TenantFacts, estimate_warning, private_actor_costs
from epj.report.model import load_cost_model


def test_each_gp_office_is_billed_on_its_own_from_the_cost_model() -> None:
    model = load_cost_model()
    office = GpOfficeFacts(id="5035-sentrum-legesenter", name="Sentrum", municipality="5035", general_practitioners=12)
    bill = private_actor_costs(model, [office])["5035-sentrum-legesenter"]
    assert bill.total == Decimal("2390.00")  # 950.00 per office + 12 GPs × 120.00


def test_cost_report_lists_gp_offices_apart_and_names_estimates() -> None:
    result = CliRunner().invoke(app, ["report", "cost", "--period", "2027-03", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output.strip().splitlines()[-1])
    actors = payload["private_actors"]
    assert set(actors) == {"5006-legesenter", "5031-legesenter", "5035-sentrum-legesenter", "5059-orkanger-legesenter"}
    assert actors["5035-sentrum-legesenter"]["municipality"] == "5035"
    assert Decimal(str(actors["5035-sentrum-legesenter"]["nok"])) == Decimal("2390.00")
    # The private actors' bills are not in the municipalities' platform total.
    municipal = sum(Decimal(str(t["allocated_nok"])) for t in payload["tenants"].values())
    assert Decimal(str(payload["platform_total_nok"])) == municipal
    assert any("ESTIMATES" in note and "5035" in note for note in payload["notes"])


def test_no_estimate_note_when_every_figure_is_exact() -> None:
    exact = [TenantFacts(kommunenr="5035", name="Stjørdal", inhabitants=25_000, end_users=600)]
    assert estimate_warning(exact) is None
    estimated = [*exact, TenantFacts(kommunenr="5031", name="Malvik", inhabitants=14_000, end_users=350,
                                     population_estimate=True)]  # fmt: skip
    note = estimate_warning(estimated)
    assert note is not None and "1 of 2" in note and "5031" in note and "5035" not in note
