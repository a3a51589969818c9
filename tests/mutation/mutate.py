"""Measure test strength: mutation testing (cosmic-ray) over the domain core, score per module as JSON.

Not part of CI (minutes to hours). Run from the repository root with the dev extra installed:

    .venv/bin/python tests/mutation/mutate.py                 # every module below
    .venv/bin/python tests/mutation/mutate.py migration/epj/migration/codes.py   # one module

cosmic-ray mutates the module *in place* one mutant at a time and restores it; do not edit or commit
while it runs. Each module is tested by the fast tests that cover it (`MODULES`); a mutant is killed
when they fail or time out. Survivors are printed with their operator and position (`survivors`), to
be killed by a new test or listed as equivalent in the issue's closing note.
"""

from __future__ import annotations

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
    "operator/epj/golive/machine.py": "tests/golive",
    "operator/epj/golive/gates.py": "tests/golive",
    "monitoring/epj/monitoring/rules.py": (
        "tests/monitoring/test_mon_rules.py tests/monitoring/test_mon_pinned_literals.py"
    ),
    "infra/epj/infra/isolation.py": "tests/infra",  # RBAC and NetworkPolicy builders
}


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
    _run([cr, "exec", str(config), str(session)])
    dump = subprocess.run([cr, "dump", str(session)], cwd=ROOT, check=True, capture_output=True, text=True)
    killed = survived = errors = 0
    survivors: list[str] = []
    source = (ROOT / module).read_text(encoding="utf-8").splitlines()
    for line in dump.stdout.splitlines():
        item, result = json.loads(line)
        if result is None:
            continue
        if result["worker_outcome"] != "normal":
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
        "score": round(killed / total, 3) if total else None,
        "survivors": survivors,
    }


def main(argv: list[str]) -> int:
    chosen = argv or list(MODULES)
    results = {module: mutate(module, MODULES[module]) for module in chosen}
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
