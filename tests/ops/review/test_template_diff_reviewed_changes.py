"""Three of the changes a reviewer must judge, made for real in a copy of this checkout and
synthesized: the report's lines for each are what CloudFormation will do.

One synthesis holds them all (each touches resources of its own, so each row is read apart):
the dev budget raised, the Aurora cluster renamed, an IAM action granted and a security-group
port changed. The base is the session's own synthesis of this checkout.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from config.model import DeliveryConfig
from config.paths import ROOT
from ops.review.template_diff import EnvironmentDiff, diff_assemblies, render_markdown
from tests.support.assembly import Assembly, resources, synthesize_or_fail
from tests.support.source_artifact import WEB_DIST, export_source

pytestmark = pytest.mark.xdist_group("reviewed-changes")

# (file, text as shipped, text in the change): each must occur once where it is replaced.
EDITS = {
    "budget": ("config/environments.toml", "monthly_limit_usd = 150", "monthly_limit_usd = 200"),
    "cluster": ("infra/stage.py", '-data-cluster"', '-db-cluster"'),
    "iam": (
        "infra/services/deployment_hook/construct.py",
        '"ec2:DeleteNetworkInterface",\n',
        '"ec2:DeleteNetworkInterface",\n                    "ec2:DetachNetworkInterface",\n',
    ),
    "ingress": (
        "infra/services/services.py",
        'ec2.Port.tcp(ALB_LISTENER_PORT),\n            "HTTP from CloudFront',
        'ec2.Port.tcp(8080),\n            "HTTP from CloudFront',
    ),
}


def _edit(tree: Path, file: str, before: str, after: str) -> None:
    path = tree / file
    text = path.read_text(encoding="utf-8")
    assert text.count(before) >= 1, f"{file} no longer holds {before!r}: update EDITS"
    path.write_text(text.replace(before, after, 1), encoding="utf-8")


@pytest.fixture(scope="module")
def changed(tmp_path_factory: pytest.TempPathFactory) -> Assembly:
    tree = export_source(ROOT, tmp_path_factory.mktemp("reviewed-changes") / "tree")
    shutil.copytree(ROOT / WEB_DIST, tree / WEB_DIST)
    for file, before, after in EDITS.values():
        _edit(tree, file, before, after)
    return Assembly(synthesize_or_fail(tree.parent / "cdk.out", root=tree))


@pytest.fixture(scope="module")
def diffs(assembly: Assembly, changed: Assembly) -> dict[str, EnvironmentDiff]:
    return {env.environment: env for env in diff_assemblies(assembly.root, changed.root)}


@pytest.fixture(scope="module")
def sections(diffs: dict[str, EnvironmentDiff]) -> dict[str, list[str]]:
    """The rendered report's lines, by environment (what the PR comment and the rollback PR
    body print)."""
    report = render_markdown(list(diffs.values()))
    found: dict[str, list[str]] = {}
    for section in report.split("\n### ")[1:]:
        environment = section.split(":", 1)[0]
        found[environment] = section.splitlines()
    return found


def _line(lines: list[str], logical_id: str) -> str:
    (line,) = [line for line in lines if f"`{logical_id}` (" in line]
    return line


ENVIRONMENTS = ("dev", "staging", "prod")


def test_only_the_environments_change_not_the_pipeline(diffs: dict[str, EnvironmentDiff]) -> None:
    assert {name: bool(env.changes) for name, env in diffs.items()} == {
        "pipeline": False,
        **dict.fromkeys(ENVIRONMENTS, True),
    }


def test_raising_the_dev_budget_updates_it_in_place(
    changed: Assembly, sections: dict[str, list[str]]
) -> None:
    """BudgetName is create-only under Budget; the limit sits beside it, so nothing is replaced."""
    (budget,) = resources(changed.template("todo-dev-stateless"), "AWS::Budgets::Budget")
    assert _line(sections["dev"], budget) == (
        f"  - changed `{budget}` (AWS::Budgets::Budget) — Budget"
    )
    for environment in ("staging", "prod"):
        assert not any("AWS::Budgets::Budget" in line for line in sections[environment])


# What replacing each kind of data does where the environment protects its data, and where not.
CLUSTER = {
    True: "snapshot taken, then a new EMPTY one (UpdateReplacePolicy Snapshot)",
    False: "deleted and replaced by an EMPTY one (UpdateReplacePolicy Delete)",
}
LOGS = {
    True: "old one retained, a new EMPTY one is created (UpdateReplacePolicy Retain)",
    False: "deleted and replaced by an EMPTY one (UpdateReplacePolicy Delete)",
}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_renaming_the_cluster_replaces_it_with_its_instances_and_says_what_the_data_becomes(
    environment: str, changed: Assembly, sections: dict[str, list[str]], config: DeliveryConfig
) -> None:
    """DBClusterIdentifier is create-only on the cluster and on each DB instance: the writer
    and (in prod) the reader go with it. The log group is named after the cluster."""
    protected = config.environment(environment).protect_data
    template = changed.template(f"todo-{environment}-stateful")
    (cluster,) = resources(template, "AWS::RDS::DBCluster")
    (logs,) = [
        logical_id
        for logical_id, group in resources(template, "AWS::Logs::LogGroup").items()
        if "postgresql" in str(group["Properties"].get("LogGroupName"))
    ]
    lines = sections[environment]
    assert _line(lines, cluster) == (
        f"  - **replaced `{cluster}` (AWS::RDS::DBCluster)** — DBClusterIdentifier "
        f"[**STATEFUL: {CLUSTER[protected]}**]"
    )
    instances = resources(template, "AWS::RDS::DBInstance")
    assert len(instances) == (2 if environment == "prod" else 1)
    for instance in instances:
        assert _line(lines, instance) == (
            f"  - **replaced `{instance}` (AWS::RDS::DBInstance)** — DBClusterIdentifier, "
            f"because `{cluster}` is replaced "
            "[**STATEFUL: no data of its own: its DB cluster holds it**]"
        )
    assert _line(lines, logs) == (
        f"  - **replaced `{logs}` (AWS::Logs::LogGroup)** — LogGroupName "
        f"[**STATEFUL: {LOGS[protected]}**]"
    )
    assert "**Stateful resources would be replaced or removed in this environment.**" in lines


def _rows(lines: list[str], header: str) -> list[list[str]]:
    start = lines.index(header)
    rows = []
    for line in lines[start + 4 :]:  # the title, a blank line, the head and its rule
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_granted_action_shows_which_actions_on_which_resources(
    environment: str, sections: dict[str, list[str]], config: DeliveryConfig
) -> None:
    env = config.environment(environment)
    interfaces = f"arn:aws:ec2:{env.region}:{env.account}:network-interface/*"
    before = "ec2:AssignPrivateIpAddresses, ec2:DeleteNetworkInterface, "
    after = "ec2:UnassignPrivateIpAddresses"
    assert [row[:5] for row in _rows(sections[environment], "IAM statements:")] == [
        [
            "+",
            f"`todo-{environment}-stateless`",
            "Allow",
            f"{before}ec2:DetachNetworkInterface, {after}",
            interfaces,
        ],
        ["-", f"`todo-{environment}-stateless`", "Allow", f"{before}{after}", interfaces],
    ]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_changed_port_shows_the_peer_and_both_ports(
    environment: str, sections: dict[str, list[str]]
) -> None:
    rows = _rows(sections[environment], "Security-group rules:")
    assert [(row[0], row[3], row[5]) for row in rows] == [
        ("+", "ingress", "TCP 8080"),
        ("-", "ingress", "TCP 80"),
    ]
    # The same group and the same peer: CloudFront's origin-facing prefix list.
    assert len({(row[2], row[4]) for row in rows}) == 1
    assert "PrefixLists" in rows[0][4] and "AlbSecurityGroup" in rows[0][2]
