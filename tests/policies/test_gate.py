"""The policy gate as tests: cdk-nag, cfn-lint and checkov over the synthesized assembly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from infra.compliance import MIN_REASON_LENGTH
from policies.gate import nag_report, run_cfn_lint, run_checkov, templates_in
from tests.support.assembly import ROOT, Assembly


def test_cdk_nag_has_no_unacknowledged_finding(assembly: Assembly) -> None:
    violations, acknowledged = nag_report(assembly.root)
    assert violations == []
    assert acknowledged > 0, "the report must come from a real nag run over the pipeline"


def test_cfn_lint_finds_no_error_or_warning(assembly: Assembly) -> None:
    assert [str(f) for f in run_cfn_lint(templates_in(assembly.root))] == []


def test_checkov_finds_no_failure(assembly: Assembly) -> None:
    report = run_checkov(assembly.root)
    assert [str(f) for f in report.failed] == []
    assert report.passed > 100


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
    for path, rule, reason in nag:
        assert path.endswith(("/Resource", "/Handler")) or "/Resource" in path, path
        assert rule.count("AwsSolutions-") == 1, rule
        assert len(reason) >= MIN_REASON_LENGTH, (path, rule)


def test_every_checkov_skip_names_one_check_with_a_reason(assembly: Assembly) -> None:
    skips = []
    for template_file in templates_in(assembly.root):
        template = json.loads(template_file.read_text())
        for logical_id, resource in template["Resources"].items():
            skips += [
                (logical_id, skip)
                for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
            ]
    assert skips
    for logical_id, skip in skips:
        assert set(skip) == {"id", "comment"}, logical_id
        assert skip["id"].startswith("CKV"), logical_id
        assert len(skip["comment"]) >= MIN_REASON_LENGTH, logical_id


def test_checkov_fails_when_a_skip_is_removed(assembly: Assembly, tmp_path: Path) -> None:
    """The gate is live: the same template without its reasoned skips fails."""
    copy = tmp_path / "assembly"
    dev = next(
        p
        for p in templates_in(assembly.root)
        if p.parent.name.endswith("-dev") and "Network" in p.name
    )
    copy.mkdir()
    template = json.loads(dev.read_text())
    for resource in template["Resources"].values():
        resource.get("Metadata", {}).pop("checkov", None)
    (copy / dev.name).write_text(json.dumps(template))
    failed = {finding.rule for finding in run_checkov(copy).failed}
    assert failed == {"CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117"}


def test_cfn_lint_reports_a_real_error(tmp_path: Path) -> None:
    template = tmp_path / "bad.template.json"
    template.write_text(
        json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"Nope": 1}}}})
    )
    (finding,) = run_cfn_lint([template])
    assert finding.rule == "E3002"


def test_nag_wiring_fails_synth_on_a_finding_in_a_nested_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cdk-nag is registered so that a non-compliant resource in any environment stops synth."""
    from aws_cdk import aws_s3 as s3  # noqa: PLC0415

    import pipeline.stage as stage_module  # noqa: PLC0415
    from pipeline.app import build_app  # noqa: PLC0415
    from pipeline.buildspec import Buildspec  # noqa: PLC0415
    from pipeline.config import load_config  # noqa: PLC0415

    original = stage_module.EnvironmentStage.__init__

    def with_unlogged_bucket(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        s3.Bucket(self.network, "Unlogged", enforce_ssl=True)

    monkeypatch.setattr(stage_module.EnvironmentStage, "__init__", with_unlogged_bucket)
    app = build_app(
        config=load_config(),
        cli_version="0.0.0",
        synth_buildspec=Buildspec.load("synth"),
        services_dir=ROOT / "services",
        web_dist=ROOT / "services" / "web" / "dist",
        outdir=tmp_path,
    )
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    violations, _ = nag_report(tmp_path)
    assert {(v.rule, v.location) for v in violations} >= {
        ("AwsSolutions-S1", "Pipeline/dev/Network/Unlogged/Resource"),
        ("AwsSolutions-S1", "Pipeline/prod/Network/Unlogged/Resource"),
    }
    shutil.rmtree(tmp_path, ignore_errors=True)
