"""Typed access to the CloudFormation resource behind an L2 construct."""

from __future__ import annotations

from typing import Any, TypeVar, cast

from aws_cdk import CfnResource
from constructs import IConstruct

CfnT = TypeVar("CfnT", bound=CfnResource)

# Default children already read, by the construct's jsii object id (a Python proxy of a node
# object is not kept, so it is no key): a construct is often explained or adjusted several
# times, and each read is two round trips to node.
_default_children: dict[str, IConstruct | None] = {}


def default_child(construct: IConstruct) -> IConstruct | None:
    """``construct.node.default_child``, read from node once per construct."""
    key = cast(Any, construct).__jsii_ref__.ref
    if key not in _default_children:
        _default_children[key] = construct.node.default_child
    return _default_children[key]


def cfn_resource(construct: IConstruct, cfn_type: type[CfnT]) -> CfnT:
    """The construct's default child as ``cfn_type``; a clear error if it is something else."""
    child = default_child(construct)
    if not isinstance(child, cfn_type):
        raise TypeError(
            f"{construct.node.path} is backed by {type(child).__name__}, not {cfn_type.__name__}"
        )
    return child
