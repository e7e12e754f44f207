"""The service-grant checks (policies/checks/grants/), over their fixtures and the real assembly.

Each check has `grant_fixtures/<check file>/pass.yaml` and `fail.yaml`: several stacks each
(YAML documents), because a grant links resources across stacks, and `expected.yaml`: its id
and the exact set of resources it must pass and fail. They live apart from checkov's fixtures
so that checkov, which scans fixtures/, never reads them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from policies.checks.grants import log_buckets
from policies.checks.grants.model import load_cloud_assembly, load_fixture
from policies.checks.grants.runner import CHECKS, GrantReport, GrantResult, run_grant_checks
from policies.gate import grant_findings
from tests.support.assembly import Assembly
from tests.support.check_expectations import FIXTURE_FILES, load_expectations

FIXTURES = Path(__file__).resolve().parent / "grant_fixtures"
GRANT_CHECKS = Path(log_buckets.__file__).resolve().parent

# check file name -> its grant_fixtures/<name>/expected.yaml
EXPECTED = load_expectations(FIXTURES)


def _declared_ids() -> dict[str, str]:
    """Grant check file stem -> the CKV_TODO id it declares."""
    declared = {}
    for path in sorted(GRANT_CHECKS.glob("*.py")):
        ids = re.findall(r"\bid=\"(CKV_TODO_\d+)\"", path.read_text())
        if ids:
            assert len(ids) == 1, f"{path.name} declares {ids}"
            declared[path.stem] = ids[0]
    return declared


def test_every_grant_check_is_run_has_fixtures_and_continues_the_numbering() -> None:
    declared = _declared_ids()
    assert declared == {name: check_id for name, (check_id, _, _) in EXPECTED.items()}
    assert {check.id for check in CHECKS} == set(declared.values())
    assert sorted(declared.values(), key=lambda i: int(i.rsplit("_", 1)[1])) == [
        f"CKV_TODO_{n}" for n in range(8, 14)
    ]
    for name in declared:
        assert {p.name for p in (FIXTURES / name).iterdir()} == FIXTURE_FILES


def _of(results: list[GrantResult], check_id: str, file: str) -> set[str]:
    return {f"{file}:{r.resource}" for r in results if r.check_id == check_id}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_grant_check_passes_and_fails_exactly_the_expected_resources(name: str) -> None:
    check_id, passed, failed = EXPECTED[name]
    found_passed: set[str] = set()
    found_failed: set[str] = set()
    for file in ("pass", "fail"):
        report = run_grant_checks(load_fixture(FIXTURES / name / f"{file}.yaml"), checks=[check_id])
        found_passed |= _of(report.passed_checks, check_id, file)
        found_failed |= _of(report.failed_checks, check_id, file)
    assert found_passed == passed
    assert found_failed == failed


def test_a_reasoned_skip_on_the_resource_moves_its_result_to_skipped() -> None:
    assembly = load_fixture(FIXTURES / "topic_publishers" / "fail.yaml")
    topic = assembly.stacks["topics-broken"].resources["NoPolicyTopic"]
    topic["Metadata"] = {"checkov": {"skip": [{"id": "CKV_TODO_9", "comment": "a reason"}]}}
    report = run_grant_checks(assembly, checks=["CKV_TODO_9"])
    assert [(r.resource, r.skip_comment) for r in report.skipped_checks] == [
        ("AWS::SNS::Topic.NoPolicyTopic", "a reason")
    ]
    assert "AWS::SNS::Topic.NoPolicyTopic" not in {r.resource for r in report.failed_checks}


@pytest.fixture(scope="module")
def real_report(assembly: Assembly) -> GrantReport:
    return run_grant_checks(load_cloud_assembly(assembly.root))


def test_the_real_assembly_has_no_grant_finding(real_report: GrantReport) -> None:
    assert [str(f) for f in grant_findings(real_report)] == []
    assert real_report.skipped_checks == []


def test_every_grant_check_judged_something_in_the_real_assembly(real_report: GrantReport) -> None:
    judged = {r.check_id for r in real_report.passed_checks}
    assert judged == {check.id for check in CHECKS}


def test_the_gate_reports_each_failed_grant_with_its_file_resource_and_problem() -> None:
    fixture = FIXTURES / "log_group_keys" / "fail.yaml"
    report = run_grant_checks(load_fixture(fixture), checks=["CKV_TODO_8"])
    findings = {str(f) for f in grant_findings(report)}
    assert (
        f"grants CKV_TODO_8 {fixture} AWS::KMS::Key.RootOnlyKey: nothing allows "
        "logs.eu-west-1.amazonaws.com kms:Encrypt, kms:Decrypt, kms:ReEncryptFrom, "
        "kms:GenerateDataKey, kms:DescribeKey (for log group logs-broken/RootOnlyLogs)"
    ) in findings


def test_elb_log_accounts_are_the_ones_cdk_knows() -> None:
    from aws_cdk import region_info  # noqa: PLC0415 - jsii start only for this test

    assert {
        region: region_info.RegionInfo.get(region).elbv2_account
        for region in log_buckets.ELB_ACCOUNTS
    } == log_buckets.ELB_ACCOUNTS
