"""Reasons for the findings on the handlers behind CDK's cross-region references.

With ``cross_region_references=True`` CDK adds, while it resolves references at synthesis
(after every constructor and aspect has run), a Lambda-backed custom resource to the
producing stack (writes the value as an SSM parameter in the consumer's region) and one to
the consuming stack (reads it). They do not exist yet when the stacks are built, so the
explanations (and the stack's cost tags) are attached from a validation hook, which runs
after references are resolved and before templates are written.
"""

from __future__ import annotations

import jsii
from aws_cdk import CfnResource, Stack
from constructs import IConstruct, IValidation

from infra.compliance import ignore_cfn_lint, skip_checkov

_PROVIDERS = (
    "Custom::CrossRegionExportWriterCustomResourceProvider",
    "Custom::CrossRegionExportReaderCustomResourceProvider",
)


@jsii.implements(IValidation)
class _ExplainHandlers:
    def __init__(self, stack: Stack) -> None:
        self._stack = stack

    def validate(self) -> list[str]:
        for provider_id in _PROVIDERS:
            provider = self._stack.node.try_find_child(provider_id)
            if provider is not None:
                handler = provider.node.find_child("Handler")
                _explain(handler)
                _tag_like_the_stack(self._stack, [handler, provider.node.find_child("Role")])
        return []


def _tag_like_the_stack(stack: Stack, constructs: list[IConstruct]) -> None:
    """Give the generated role and function the stack's tags (cost allocation).

    Tags.of() has already run (it is an aspect) when these are created, and they are plain
    CfnResources without a tag manager, so the tags are written as a property.
    """
    tags = [{"Key": key, "Value": value} for key, value in sorted(stack.tags.tag_values().items())]
    if not tags:
        return
    for construct in constructs:
        if isinstance(construct, CfnResource):
            construct.add_property_override("Tags", tags)


def _explain(handler: IConstruct) -> None:
    skip_checkov(
        handler,
        "CKV_AWS_115",
        "CDK's cross-region reference handler runs only when CloudFormation deploys the "
        "stack; reserving concurrency would take capacity from the account pool",
    )
    skip_checkov(
        handler,
        "CKV_AWS_116",
        "CDK's cross-region reference handler is invoked synchronously by CloudFormation, "
        "which records every failure in the stack events and rolls back; a DLQ stays empty",
    )
    skip_checkov(
        handler,
        "CKV_AWS_117",
        "CDK's cross-region reference handler only calls the SSM API for /cdk/exports/ "
        "parameters of this stack; a VPC would need NAT or endpoints for no isolation gain",
    )
    ignore_cfn_lint(
        handler,
        "W3005",
        "the redundant DependsOn on its role is emitted by CDK core and is harmless",
    )


def explain_cross_region_handlers(stack: Stack) -> None:
    """Attach the reasons to ``stack``'s cross-region reference handlers once they exist."""
    stack.node.add_validation(_ExplainHandlers(stack))
