"""Measure test strength: mutation testing (cosmic-ray) over the domain core, score per module as JSON.

Not part of CI (minutes to hours). Run from the repository root with the dev extra installed:

    .venv/bin/python tests/mutation/mutate.py                 # every module below
    .venv/bin/python tests/mutation/mutate.py migration/epj/migration/codes.py   # one module

cosmic-ray mutates the module *in place* one mutant at a time and restores it; do not edit or commit
while it runs. Each module is tested by the fast tests that cover it (`MODULES`); a mutant is killed
when they fail or time out. Survivors are printed with their operator and position (`survivors`), to
be killed by a new test or listed as equivalent in the issue's closing note.

Mutants of code that never runs are skipped before execution and counted apart (``skipped``), not
scored: with ``from __future__ import annotations`` a parameter's or return type annotation is a string
nobody evaluates (``str | None`` → ``str + None`` changes nothing; class field annotations, which
pydantic and dataclasses read, are still mutated), and the bare ``*`` that makes the following
parameters keyword-only is not an operator (``*`` → ``/`` only relaxes how the earlier parameters
may be passed; ``*`` → ``+`` is a syntax error that any run "kills"). Such mutants say nothing
about the tests; in ``mapping.py`` they were 231 of 291.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTEST_ARGS = "-x -q -p no:randomly -p no:cacheprovider -n 0"
FORKSERVER = Path(__file__).resolve().with_name("forkserver.py")
MIGRATION_TESTS = (
    "tests/migration/test_golden_values.py tests/migration/test_oracle_properties.py "
    "tests/migration/test_rules.py tests/migration/test_values_identity.py tests/migration/test_contract_doc.py"
)
# Fast, broad files first (a killed mutant stops at its first failure): the direct checks of each gate and of
# the machine's rules, the transition table, then the scenarios; the CRD schema checks last (slowest).
# test_crd_models_agree, test_resume_stamp and test_runbook_agrees do not run the machine or the gates.
GOLIVE_TESTS = " ".join(
    f"tests/golive/{name}.py"
    for name in (
        "test_gate_checks", "test_machine_rules", "test_transitions", "test_state", "test_gates", "test_levers",
        "test_approval_scope", "test_wave", "test_gp_offices", "test_scenarios", "test_schedule_clock", "test_crds",
    )
)  # fmt: skip
INFRA_ACCESS_TESTS = "tests/infra/test_rbac_allowlist.py tests/infra/test_flows.py tests/infra/test_isolation.py"
MODULES: dict[str, str] = {
    "migration/epj/migration/codes.py": MIGRATION_TESTS,
    "migration/epj/migration/values.py": (
        "tests/migration/test_values_edges.py tests/migration/test_values_identity.py "
        "tests/migration/test_golden_values.py tests/migration/test_rules.py tests/migration/test_oracle_properties.py"
    ),
    "migration/epj/migration/identity.py": (
        "tests/migration/test_values_edges.py tests/migration/test_values_identity.py "
        "tests/migration/test_golden_values.py tests/migration/test_rules.py tests/migration/test_oracle_properties.py"
    ),
    "migration/epj/migration/mapping.py": (
        "tests/migration/test_mapping_builders.py tests/migration/test_golden_values.py "
        "tests/migration/test_oracle_properties.py tests/migration/test_rules_decisions.py"
    ),
    "migration/epj/migration/rules.py": (
        "tests/migration/test_rules_decisions.py tests/migration/test_rules.py "
        "tests/migration/test_golden_values.py tests/migration/test_oracle_properties.py"
    ),
    "operator/epj/golive/machine.py": GOLIVE_TESTS,
    "operator/epj/golive/gates.py": GOLIVE_TESTS,
    "monitoring/epj/monitoring/rules.py": (
        "tests/monitoring/test_mon_rule_values.py tests/monitoring/test_mon_pinned_literals.py "
        "tests/monitoring/test_mon_rules.py"
    ),
    # The NetworkPolicy analysis the isolation proofs rest on, and the RBAC and NetworkPolicy builders
    # (in manifests.py, measured only in SCOPES' functions).
    "infra/epj/infra/isolation.py": f"tests/infra/test_isolation_semantics.py {INFRA_ACCESS_TESTS}",
    "infra/epj/infra/manifests.py": INFRA_ACCESS_TESTS,
}

#: Modules measured only inside these functions: manifests.py builds every object of the baseline; issue #19
#: asks for its RBAC and network builders. Mutants elsewhere in the file are skipped as ``out_of_scope``.
SCOPES: dict[str, frozenset[str]] = {
    "infra/epj/infra/manifests.py": frozenset(
        {"network_policies", "api_server_egress", "_dns_egress", "app_selector", "_ns_selector", "_tcp",
         "admin_rbac", "_operator_network_policies"}
    ),
}  # fmt: skip


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def mutate(module: str, tests: str, timeout: float = 90.0) -> dict[str, object]:
    """Run cosmic-ray on one module; its score and survivors.

    The test command goes through the pre-warmed pytest in ``forkserver.py`` (same tests, same
    verdicts, about 40 % less time per mutant); its children time out before cosmic-ray does.
    """
    with tempfile.TemporaryDirectory(prefix="epj-mutate-") as tmp:
        config, session = Path(tmp) / "cr.toml", Path(tmp) / "session.sqlite"
        sock = Path(tmp) / "pytest.sock"
        pytest_args = f"{PYTEST_ARGS} {tests}"
        server = subprocess.Popen(
            [sys.executable, str(FORKSERVER), "serve", str(sock), "--", *pytest_args.split()],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            command = f"{sys.executable} {FORKSERVER} run {sock} -- {pytest_args}"
            return _mutate_with(module, config, session, command, timeout, sock)
        finally:
            server.terminate()
            server.wait()


def _mutate_with(
    module: str, config: Path, session: Path, test_command: str, timeout: float, sock: Path
) -> dict[str, object]:
    for _ in range(600):
        if sock.exists():
            break
        time.sleep(0.1)
    else:
        raise RuntimeError("the pre-warmed pytest did not start; run forkserver.py serve by hand to see why")
    config.write_text(
        "[cosmic-ray]\n"
        f'module-path = "{module}"\n'
        f"timeout = {timeout}\n"
        "excluded-modules = []\n"
        f'test-command = "env EPJ_MUTATED_MODULE={module} {test_command}"\n'
        '[cosmic-ray.distributor]\nname = "local"\n',
        encoding="utf-8",
    )
    cr = str(Path(sys.executable).parent / "cosmic-ray")
    _run([cr, "init", str(config), str(session), "--force"])
    _skip_never_executed(session, ROOT / module, SCOPES.get(module))
    _run([cr, "exec", str(config), str(session)])
    dump = subprocess.run([cr, "dump", str(session)], cwd=ROOT, check=True, capture_output=True, text=True)
    killed = survived = errors = skipped = out_of_scope = 0
    survivors: list[str] = []
    source = (ROOT / module).read_text(encoding="utf-8").splitlines()
    for line in dump.stdout.splitlines():
        item, result = json.loads(line)
        if result is None:
            continue
        if result["worker_outcome"] == "skipped" and result.get("output") == OUT_OF_SCOPE:
            out_of_scope += 1
        elif result["worker_outcome"] == "skipped":
            skipped += 1
        elif result["worker_outcome"] != "normal":
            errors += 1
        elif result["test_outcome"] == "survived":
            survived += 1
            for m in item["mutations"]:
                line_no = m["start_pos"][0]
                code = source[line_no - 1].strip() if 0 < line_no <= len(source) else ""
                survivors.append(f"{m['operator_name']} #{m['occurrence']} at line {line_no}: {code}")
        else:
            killed += 1
    total = killed + survived
    return {
        "mutants": total,
        "killed": killed,
        "survived": survived,
        "errors": errors,
        "skipped": skipped,
        "out_of_scope": out_of_scope,
        "score": round(killed / total, 3) if total else None,
        "survivors": survivors,
    }


def _annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) of every annotation, as (line, character column) like cosmic-ray's positions."""
    lines = source.splitlines()

    def chars(line: int, byte_col: int) -> int:  # ast columns count UTF-8 bytes (æ, ø, å are two)
        return len(lines[line - 1].encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))

    tree = ast.parse(source)
    if not any(
        isinstance(n, ast.ImportFrom) and n.module == "__future__" and any(a.name == "annotations" for a in n.names)
        for n in tree.body
    ):
        return []  # annotations are evaluated at definition time: their mutants run
    in_class = {id(stmt) for cls in ast.walk(tree) if isinstance(cls, ast.ClassDef) for stmt in cls.body}
    spans = []
    for node in ast.walk(tree):
        found: list[ast.expr | None] = []
        if isinstance(node, ast.arg):
            found.append(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.append(node.returns)
        elif isinstance(node, ast.AnnAssign) and id(node) not in in_class:
            # a class's field annotations are read by pydantic and dataclasses: those mutants do run
            found.append(node.annotation)
        for ann in found:
            if ann is not None and ann.end_lineno is not None and ann.end_col_offset is not None:
                start = (ann.lineno, chars(ann.lineno, ann.col_offset))
                spans.append((start, (ann.end_lineno, chars(ann.end_lineno, ann.end_col_offset))))
    return spans


def _never_executed(source: str, start: tuple[int, int], operator: str) -> str | None:
    """Why a mutant at ``start`` cannot change behaviour (see the module docstring), or None."""
    if any(a <= start < b for a, b in _annotation_spans_cached(source)):
        return "type annotation (not evaluated)"
    line = source.splitlines()[start[0] - 1]
    rest = line[start[1] + 1 :].strip()
    if "_Mul_" in operator and line[start[1] : start[1] + 1] == "*" and (not rest or rest[0] in ",)"):
        return "keyword-only marker `*` in a signature"
    return None


_SPANS: dict[str, list[tuple[tuple[int, int], tuple[int, int]]]] = {}


def _annotation_spans_cached(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    if source not in _SPANS:
        _SPANS[source] = _annotation_spans(source)
    return _SPANS[source]


OUT_OF_SCOPE = "outside the measured functions (SCOPES)"


def _function_lines(source: str, names: frozenset[str]) -> set[int]:
    """Line numbers of the named top-level functions (decorators and signature included)."""
    lines: set[int] = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            lines.update(range(first, (node.end_lineno or node.lineno) + 1))
    return lines


def _skip_never_executed(session: Path, module: Path, scope: frozenset[str] | None = None) -> None:
    """Mark mutants of never-executed (or out-of-scope) code as skipped in the session, before it runs them."""
    from cosmic_ray.work_db import use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    source = module.read_text(encoding="utf-8")
    measured = _function_lines(source, scope) if scope else None

    def reason(start: tuple[int, int], operator: str) -> str | None:
        if measured is not None and start[0] not in measured:
            return OUT_OF_SCOPE
        return _never_executed(source, start, operator)

    with use_db(str(session)) as db:
        for item in list(db.work_items):
            reasons = [reason(tuple(m.start_pos), m.operator_name) for m in item.mutations]
            if reasons and all(reasons):
                skipped = WorkResult(output=reasons[0], test_outcome=None, diff=None,
                                     worker_outcome=WorkerOutcome.SKIPPED)  # fmt: skip
                db.set_result(item.job_id, skipped)


def main(argv: list[str]) -> int:
    chosen = argv or list(MODULES)
    results = {module: mutate(module, MODULES[module]) for module in chosen}
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
