"""`make plan` reads the assembly: environments, stacks, and where the approvals are."""

from __future__ import annotations

from config.exit_codes import BAD_INPUT
from config.model import DeliveryConfig
from config.names import approval_stage_name
from ops.review.plan import main, read_plan, render
from tests.support.assembly import Assembly


def test_plan_lists_every_environment_with_account_region_and_stacks(
    assembly: Assembly, config: DeliveryConfig
) -> None:
    plan = read_plan(assembly.root)
    assert [(e.name, e.account, e.region) for e in plan.environments] == [
        (env.name, env.account, env.region) for env in config.environments
    ]
    for env in plan.environments:
        names = {stack.name for stack in env.stacks}
        prefix = f"{config.project.name}-{env.name}"
        assert {f"{prefix}-stateful", f"{prefix}-stateless"} <= names
        for stack in env.stacks:
            assert stack.resources == len(assembly.template(stack.name)["Resources"])
            assert (
                stack.termination_protection is config.environment(env.name).termination_protection
            )


def test_plan_shows_approvals_only_where_config_requires_them(
    assembly: Assembly, config: DeliveryConfig
) -> None:
    plan = read_plan(assembly.root)
    gated = {stage.name for stage in plan.pipeline.stages if stage.approvals}
    expected = {approval_stage_name(e.name) for e in config.environments if e.approval_required}
    assert gated == expected


def test_rendered_plan_is_readable(assembly: Assembly) -> None:
    text = render(read_plan(assembly.root))
    lines = text.splitlines()
    assert lines[0].startswith("Pipeline todo-delivery  aws://111111111111/eu-west-1")
    # A gated environment's change report runs beside the previous one's verification; its
    # approval opens its own stage.
    dev = next(line for line in lines if ". dev " in line)
    assert dev.endswith("-> ChangeReport-staging + Verify-dev"), dev
    gate = next(line for line in lines if ". staging-approval" in line)
    assert gate.split()[2:] == ["[manual", "approval:", "Approve-staging]"], gate
    staging_at = next(i for i, line in enumerate(lines) if ". staging " in line)
    assert lines.index(gate) < staging_at
    assert "manual approval" not in dev + lines[staging_at]
    assert any(
        "todo-prod-stateful" in line and "[termination protection]" in line for line in lines
    )


def test_plan_of_a_missing_assembly_is_an_error_not_a_traceback(tmp_path: object) -> None:
    assert main([str(tmp_path)]) == BAD_INPUT


def test_the_plan_says_how_each_stage_is_gated_and_undone(assembly: Assembly) -> None:
    lines = render(read_plan(assembly.root)).splitlines()

    def conditions_of(stage: str) -> str:
        index = next(i for i, line in enumerate(lines) if f". {stage} " in line)
        following = lines[index + 1].strip()
        return following if following.startswith("(") else ""

    assert conditions_of("dev") == "(rolls back on failure)"
    assert conditions_of("staging") == (
        "(entered if todo-dev/health not in ALARM; rolls back on failure)"
    )
    assert conditions_of("prod") == (
        "(entered if todo-staging/health not in ALARM and inside * * 8-16 ? * MON-THU "
        "(Europe/Berlin); rolls back on failure)"
    )
    assert conditions_of("Build") == ""
