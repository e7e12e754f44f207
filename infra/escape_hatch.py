"""Typed access to the CloudFormation resource behind an L2 construct."""

from __future__ import annotations

from typing import TypeVar

from aws_cdk import CfnResource
from constructs import IConstruct

CfnT = TypeVar("CfnT", bound=CfnResource)


def cfn_resource(construct: IConstruct, cfn_type: type[CfnT]) -> CfnT:
    """The construct's default child as ``cfn_type``; a clear error if it is something else."""
    child = construct.node.default_child
    if not isinstance(child, cfn_type):
        raise TypeError(
            f"{construct.node.path} is backed by {type(child).__name__}, not {cfn_type.__name__}"
        )
    return child
