"""The scanners over the session's assembly, once per session: the first xdist worker that needs
a report runs the scanner (tens of seconds each), every other worker reads its result."""

from __future__ import annotations

import pytest

from policies.gate import CheckovReport, Finding, run_cfn_lint, run_checkov, templates_in
from tests.support.assembly import Assembly
from tests.support.scanners import (
    decode_checkov,
    decode_findings,
    encode_checkov,
    encode_findings,
)
from tests.support.shared import once_per_session, shared_dir


@pytest.fixture(scope="session")
def checkov_report(
    assembly: Assembly, tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> CheckovReport:
    return once_per_session(
        shared_dir(tmp_path_factory, worker_id),
        "checkov-report",
        lambda: run_checkov(assembly.root),
        encode=encode_checkov,
        decode=decode_checkov,
    )


@pytest.fixture(scope="session")
def cfn_lint_findings(
    assembly: Assembly, tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> list[Finding]:
    return once_per_session(
        shared_dir(tmp_path_factory, worker_id),
        "cfn-lint-findings",
        lambda: run_cfn_lint(templates_in(assembly.root)),
        encode=encode_findings,
        decode=decode_findings,
    )
