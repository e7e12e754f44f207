"""CDK's diff engine runs once per diff, and says in one line why it cannot run."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from config.exit_codes import BAD_INPUT
from ops.review import cdk_diff
from ops.review.cdk_diff import CdkDiffError, StackPair, diff_stacks
from ops.review.template_diff import SUBNET_GROUP_REFUSAL, diff_environments

TOPIC = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "a"}}}}
RENAMED = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "b"}}}}


def test_every_stack_of_every_environment_goes_to_one_node_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs: list[list[str]] = []
    real_run = subprocess.run

    def counting_run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        runs.append(args)
        return real_run(args, **kwargs)

    monkeypatch.setattr(subprocess, "run", counting_run)
    diffs = diff_environments(
        {
            "dev": ({"todo-dev-a": TOPIC}, {"todo-dev-a": RENAMED, "todo-dev-b": TOPIC}),
            "prod": ({"todo-prod-a": TOPIC}, {}),
        }
    )
    assert len(runs) == 1
    assert [(d.environment, [(s.stack, s.kind) for s in d.stacks]) for d in diffs] == [
        ("dev", [("todo-dev-a", "changed"), ("todo-dev-b", "added")]),
        ("prod", [("todo-prod-a", "removed")]),
    ]
    (renamed,) = diffs[0].stacks[0].changes
    assert (renamed.kind, renamed.replacing) == ("replaced", ("TopicName",))


def test_a_retained_resource_that_leaves_the_stack_loses_no_data() -> None:
    retained = {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain"}}}
    (diff,) = diff_environments({"dev": ({"s": retained}, {"s": {"Resources": {}}})})
    (change,) = diff.changes
    assert (change.kind, change.retained, change.data_at_risk) == ("removed", True, False)


def _network(cidr: str) -> dict[str, Any]:
    """A VPC, a subnet in it, and a DB subnet group and a queue policy that read the subnet."""
    return {
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": cidr}},
            "Subnet": {
                "Type": "AWS::EC2::Subnet",
                "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": cidr},
            },
            "Group": {
                "Type": "AWS::RDS::DBSubnetGroup",
                "Properties": {"DBSubnetGroupDescription": "db", "SubnetIds": [{"Ref": "Subnet"}]},
            },
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "unrelated"}},
        }
    }


def test_an_update_in_place_that_a_replacement_forces_in_its_stack_is_listed() -> None:
    """CDK's engine follows a replacement into create-only properties only; the subnet group's
    SubnetIds are updatable, so CloudFormation updates it in place, and so does the report."""
    (diff,) = diff_environments(
        {"dev": ({"s": _network("10.0.0.0/16")}, {"s": _network("10.1.0.0/16")})}
    )
    changes = {change.logical_id: change for change in diff.changes}
    assert {name: change.kind for name, change in changes.items()} == {
        "Vpc": "replaced",
        "Subnet": "replaced",
        "Group": "changed",
    }
    assert (changes["Group"].properties, changes["Group"].causes) == (("SubnetIds",), ("Subnet",))
    # Its subnets move to a new VPC, which RDS refuses: the report says the deploy would fail.
    assert changes["Group"].refusal == SUBNET_GROUP_REFUSAL


def test_a_subnet_group_whose_subnets_stay_in_their_vpc_is_not_refused() -> None:
    def subnet_only(cidr: str) -> dict[str, Any]:
        template = _network("10.0.0.0/16")
        template["Resources"]["Subnet"]["Properties"]["CidrBlock"] = cidr
        return template

    (diff,) = diff_environments(
        {"dev": ({"s": subnet_only("10.0.0.0/24")}, {"s": subnet_only("10.0.1.0/24")})}
    )
    changes = {change.logical_id: change for change in diff.changes}
    assert {name: (c.kind, c.refusal) for name, c in changes.items()} == {
        "Subnet": ("replaced", ""),
        "Group": ("changed", ""),
    }


def test_without_node_the_error_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(CdkDiffError, match=r"^node not found on PATH") as raised:
        diff_stacks({"s": StackPair(old=TOPIC, new=RENAMED, environment="dev")})
    assert raised.value.exit_code == BAD_INPUT


def test_without_the_package_the_error_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The script outside the repository: no node_modules above it to resolve the package from.
    script = Path(shutil.copy(cdk_diff.SCRIPT, tmp_path / "cdk_diff.mjs"))
    monkeypatch.setattr(cdk_diff, "SCRIPT", script)
    monkeypatch.delenv("NODE_PATH", raising=False)
    with pytest.raises(CdkDiffError) as raised:
        diff_stacks({"s": StackPair(old=TOPIC, new=RENAMED, environment="dev")})
    assert str(raised.value) == (
        f"CDK diff engine failed (exit {BAD_INPUT}): "
        "@aws-cdk/cloudformation-diff is not installed: run npm ci"
    )
    assert raised.value.exit_code == BAD_INPUT


def test_no_stacks_start_no_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    assert diff_stacks({}) == {}


def test_an_engine_failure_is_its_message_in_one_line_not_a_node_trace() -> None:
    completed = subprocess.run(
        ["node", str(cdk_diff.SCRIPT)],
        input="{not json",
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert completed.returncode == 1
    (line,) = completed.stderr.splitlines()
    assert "JSON" in line and "Node.js v" not in line, completed.stderr
