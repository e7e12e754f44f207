"""The policy gate as tests: cdk-nag, cfn-lint and checkov over the synthesized assembly."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from config.paths import ROOT
from infra.compliance import MIN_REASON_LENGTH
from policies.checks.grants.runner import check_ids as grant_check_ids
from policies.gate import (
    CheckovReport,
    Finding,
    builtin_check_ids,
    nag_report,
    run_cfn_lint,
    run_checkov,
    templates_in,
)
from tests.support.assembly import ENVIRONMENTS, NETWORK, Assembly, top_construct
from tests.support.scanners import (
    decode_checkov,
    decode_findings,
    encode_checkov,
    encode_findings,
)
from tests.support.shared import once_per_session

CUSTOM_CHECK_IDS = {f"CKV_TODO_{n}" for n in range(1, 8)}


def test_cdk_nag_has_no_unacknowledged_finding(assembly: Assembly) -> None:
    violations, acknowledged = nag_report(assembly.root)
    assert violations == []
    assert acknowledged > 0, "the report must come from a real nag run over the pipeline"


def test_cfn_lint_finds_no_error_or_warning(cfn_lint_findings: list[Finding]) -> None:
    assert [str(f) for f in cfn_lint_findings] == []


def test_checkov_finds_no_failure(checkov_report: CheckovReport) -> None:
    assert [str(f) for f in checkov_report.failed] == []
    assert checkov_report.passed > 100
    # Our checks were loaded and ran over the real assembly, not only checkov's own.
    assert checkov_report.custom_checks_passed() == CUSTOM_CHECK_IDS


def _metadata_entries(assembly: Assembly, kind: str) -> list[tuple[str, Any]]:
    entries = []
    for metadata_file in assembly.root.rglob("*.metadata.json"):
        for path, items in json.loads(metadata_file.read_text()).items():
            entries += [(path, item["data"]) for item in items if item["type"] == kind]
    return entries


def test_every_nag_acknowledgment_names_one_rule_on_one_resource_with_a_reason(
    assembly: Assembly,
) -> None:
    entries = _metadata_entries(assembly, "aws:cdk:acknowledged-rules")
    nag = [
        (path, rule, reason)
        for path, data in entries
        for rule, reason in data.items()
        if rule.startswith("AwsSolutions::")
    ]
    assert nag
    resource_paths = {path for path, _ in _metadata_entries(assembly, "aws:cdk:logicalId")}
    for path, rule, reason in nag:
        # Acknowledged on one CloudFormation resource, never on a stack or a subtree.
        assert path in resource_paths, path
        assert rule.count("AwsSolutions-") == 1, rule
        assert "," not in rule, rule
        assert len(reason) >= MIN_REASON_LENGTH, (path, rule)


def test_no_blanket_suppression_in_any_template(assembly: Assembly) -> None:
    """No stack-level cdk_nag/checkov metadata and no NagSuppressions-style resource metadata."""
    for template_file in templates_in(assembly.root):
        template = json.loads(template_file.read_text())
        assert not {"cdk_nag", "checkov"} & set(template.get("Metadata", {})), template_file.name
        for logical_id, resource in template["Resources"].items():
            assert "cdk_nag" not in resource.get("Metadata", {}), logical_id


def _checkov_skips(template: dict[str, Any]) -> list[tuple[str, dict[str, Any], Any]]:
    """(logical id, resource, skip entry) for every resource-level checkov skip."""
    return [
        (logical_id, resource, skip)
        for logical_id, resource in template["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]


def test_every_checkov_skip_names_one_known_check_with_a_reason(assembly: Assembly) -> None:
    known = builtin_check_ids() | CUSTOM_CHECK_IDS | grant_check_ids()
    skips = [
        skip
        for template_file in templates_in(assembly.root)
        for skip in _checkov_skips(json.loads(template_file.read_text()))
    ]
    assert skips
    for logical_id, resource, skip in skips:
        assert set(skip) == {"id", "comment"}, logical_id
        # One id: no list, no "CKV_AWS_1,CKV_AWS_2", no prefix that checkov would widen.
        assert isinstance(skip["id"], str), logical_id
        assert re.fullmatch(r"CKV2?_[A-Z0-9]+_\d+", skip["id"]), (logical_id, skip["id"])
        assert skip["id"] in known, (logical_id, skip["id"])
        assert len(skip["comment"].strip()) >= MIN_REASON_LENGTH, logical_id
        ids = [s["id"] for s in resource["Metadata"]["checkov"]["skip"]]
        assert len(ids) == len(set(ids)), logical_id


def _construct_paths(template_file: Path) -> dict[str, str]:
    """Logical id -> construct path, from the stack's metadata file beside its template."""
    metadata_file = template_file.with_name(
        template_file.name.replace(".template.json", ".metadata.json")
    )
    return {
        item["data"]: path.lstrip("/")
        for path, items in json.loads(metadata_file.read_text()).items()
        for item in items
        if item["type"] == "aws:cdk:logicalId"
    }


# Every skip of one of our checks, by construct path: nothing else may carry one.
CUSTOM_SKIPS = {
    ("Pipeline/Pipeline/Pipeline/Role/DefaultPolicy/Resource", "CKV_TODO_7"),
    ("Pipeline/Pipeline/Assets/FileRole/DefaultPolicy/Resource", "CKV_TODO_7"),
    ("Pipeline/DeliveryMetrics/Role/DefaultPolicy/Resource", "CKV_TODO_7"),
    ("Pipeline/DeliveryMetrics/DeadLetters/Resource", "CKV_TODO_4"),
    # Each service's trace collector: X-Ray's two writes, which have no resource type.
    *(
        (f"Pipeline/{env}/Stateless/Services/{service}/Tracing/XRayWrite/Resource", "CKV_TODO_7")
        for env in ENVIRONMENTS
        for service in ("Api", "Worker")
    ),
}


def test_custom_check_skips_are_scoped_to_the_resources_named(
    assembly: Assembly, tmp_path: Path
) -> None:
    """Exactly the named resources skip our checks, and each of them needs its skip."""
    # (construct path, check) -> (template file name, logical id)
    custom: dict[tuple[str, str], tuple[str, str]] = {}
    holding: list[Path] = []
    for template_file in templates_in(assembly.root):
        paths = _construct_paths(template_file)
        skips = _checkov_skips(json.loads(template_file.read_text()))
        for logical_id, _, skip in skips:
            if skip["id"] in CUSTOM_CHECK_IDS:
                custom[(paths[logical_id], skip["id"])] = (template_file.name, logical_id)
        if any(skip["id"] in CUSTOM_CHECK_IDS for _, _, skip in skips):
            holding.append(template_file)
    assert set(custom) == CUSTOM_SKIPS

    # The templates that hold them, without them: exactly they fail.
    for template_file in holding:
        template = json.loads(template_file.read_text())
        for resource in template["Resources"].values():
            checkov = resource.get("Metadata", {}).get("checkov", {})
            checkov["skip"] = [
                s for s in checkov.get("skip", []) if s["id"] not in CUSTOM_CHECK_IDS
            ]
        (tmp_path / template_file.name).write_text(json.dumps(template))
    report = run_checkov(tmp_path, checks=sorted({check for _, check in CUSTOM_SKIPS}))
    failed = {
        (f.rule, Path(f.location.split(" ", 1)[0]).name, f.location.rsplit(".", 1)[-1])
        for f in report.failed
    }
    assert failed == {(check, *where) for (_, check), where in custom.items()}


def test_checkov_fails_when_a_skip_is_removed(assembly: Assembly, tmp_path: Path) -> None:
    """The gate is live: the same template without its network's reasoned skips fails."""
    copy = tmp_path / "assembly"
    dev = next(
        p
        for p in templates_in(assembly.root)
        if p.parent.name.endswith("-dev") and "Stateful" in p.name
    )
    copy.mkdir()
    template = json.loads(dev.read_text())
    for resource in template["Resources"].values():
        if top_construct(resource) in NETWORK:
            resource.get("Metadata", {}).pop("checkov", None)
    (copy / dev.name).write_text(json.dumps(template))
    # Through the path the session's shared report takes (tests/policies/conftest.py): the
    # findings survive being written for the other workers and read back.
    scanned: list[CheckovReport] = []

    def scan() -> CheckovReport:
        scanned.append(run_checkov(copy))
        return scanned[0]

    report = once_per_session(
        tmp_path, "report", scan, encode=encode_checkov, decode=decode_checkov
    )
    assert report == scanned[0]
    failed = {finding.rule for finding in report.failed}
    assert failed == {"CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117"}


def test_cfn_lint_reports_a_real_error(tmp_path: Path) -> None:
    template = tmp_path / "bad.template.json"
    template.write_text(
        json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"Nope": 1}}}})
    )
    # Through the path the session's shared findings take (tests/policies/conftest.py).
    shared = tmp_path / "shared"
    shared.mkdir()
    (finding,) = once_per_session(
        shared,
        "findings",
        lambda: run_cfn_lint([template]),
        encode=encode_findings,
        decode=decode_findings,
    )
    assert finding.rule == "E3002"


def test_nag_wiring_fails_synth_on_a_finding_in_a_nested_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cdk-nag is registered so that a non-compliant resource in any environment stops synth.

    CloudFormation's own rules are cfn-lint's, in the gate: synth does not run CDK's built-in
    CloudFormation validation (the same rule set again), so its report names cdk-nag alone.
    """
    from aws_cdk import CfnResource  # noqa: PLC0415
    from aws_cdk import aws_s3 as s3  # noqa: PLC0415

    import infra.stage as stage_module  # noqa: PLC0415
    from config.model import load_config  # noqa: PLC0415
    from infra.images import pipeline_images  # noqa: PLC0415
    from pipeline.buildspec import load_buildspecs  # noqa: PLC0415
    from pipeline.cdk_app import build_app  # noqa: PLC0415

    original = stage_module.EnvironmentStage.__init__

    def with_unlogged_bucket(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        s3.Bucket(self.stateful, "Unlogged", enforce_ssl=True)
        # E3002 (no such property) in both cfn-lint and CDK's built-in validation.
        CfnResource(
            self.stateful,
            "Unschematic",
            type="AWS::SSM::Parameter",
            properties={"Type": "String", "Value": "v", "Nope": 1},
        )

    monkeypatch.setattr(stage_module.EnvironmentStage, "__init__", with_unlogged_bucket)
    config = load_config()
    app = build_app(
        config=config,
        cli_version="0.0.0",
        buildspecs=load_buildspecs(),
        images=pipeline_images(config),
        web_dist=ROOT / "services" / "web" / "dist",
        outdir=tmp_path,
    )
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    violations, _ = nag_report(tmp_path)
    assert {(v.rule, v.location) for v in violations} >= {
        ("AwsSolutions-S1", "Pipeline/dev/Stateful/Unlogged/Resource"),
        ("AwsSolutions-S1", "Pipeline/prod/Stateful/Unlogged/Resource"),
    }
    report = json.loads((tmp_path / "validation-report.json").read_text(encoding="utf-8"))
    assert [plugin["pluginName"] for plugin in report["pluginReports"]] == ["AwsSolutions"]
    (stateful_template,) = tmp_path.glob("assembly-Pipeline-dev/*Stateful*.template.json")
    assert "E3002" in {finding.rule for finding in run_cfn_lint([stateful_template])}
    shutil.rmtree(tmp_path, ignore_errors=True)
