"""checkov over the real assembly, once per test process (it takes tens of seconds)."""

from __future__ import annotations

import pytest

from policies.gate import CheckovReport, run_checkov
from tests.support.assembly import Assembly


@pytest.fixture(scope="session")
def checkov_report(assembly: Assembly) -> CheckovReport:
    return run_checkov(assembly.root)
