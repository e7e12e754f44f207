"""Identities that follow a replacement: a resource that must be replaced whenever another one
is gets a construct id derived from that other resource's identity."""

from __future__ import annotations

import hashlib
import json

from aws_cdk import Stack
from aws_cdk import aws_elasticloadbalancingv2 as elbv2


def digest(value: object) -> str:
    """Eight hex digits of a JSON-able value: short enough for a construct id."""
    encoded = json.dumps(value, sort_keys=True).encode()
    return hashlib.sha256(encoded).hexdigest()[:8].upper()


def load_balancer_identity(load_balancer: elbv2.ApplicationLoadBalancer) -> str:
    """Changes exactly when CloudFormation would replace the load balancer.

    An ALB is replaced when its logical id (its construct path) or a create-only property
    (Scheme, Type, Name) changes; its ARN changes with it.
    """
    resource = load_balancer.node.default_child
    if not isinstance(resource, elbv2.CfnLoadBalancer):
        raise TypeError(f"{load_balancer.node.path} is not a CloudFormation load balancer")
    stack = Stack.of(load_balancer)
    create_only = {
        key: stack.resolve(value)
        for key, value in (
            ("Scheme", resource.scheme),
            ("Type", resource.type),
            ("Name", resource.name),
        )
    }
    if not all(value is None or isinstance(value, str) for value in create_only.values()):
        raise ValueError(f"{load_balancer.node.path}: its scheme, type and name must be literal")
    return digest({"Path": load_balancer.node.path, **create_only})
