"""One environment of the application, as the pipeline deploys it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import CfnResource, Environment, RemovalPolicy, Stage, TagManager, Tags
from constructs import Construct, IConstruct

from config.model import (
    EnvironmentConfig,
    ProjectConfig,
    Registry,
    checks_sign_in,
    consumers_of,
    effective_auth_domain_prefix,
    http_service_of,
)
from config.names import (
    alarm_topic_name,
    checks_role_name,
    environment_prefix,
    health_alarm_name,
    health_alarm_prefix,
    stack_name,
    verify_role_name,
)
from infra.edge import EdgeStack
from infra.edge.stack import CLOUDFRONT_WAF_REGION
from infra.images import ServiceImage
from infra.removal import retain_except_on_create
from infra.stateful import StatefulStack
from infra.stateless import StatelessStack


class EnvironmentStage(Stage):
    """Every stack of one environment (dev, staging, prod...) with its account and region.

    Two stack levels, following CDK's advice to separate stateful from stateless resources
    (https://docs.aws.amazon.com/cdk/v2/guide/best-practices.html): the stateful stack and the
    us-east-1 edge stack deploy side by side, then the stateless stack that reads both. Each
    stack costs the pipeline a change set and an execution, so fewer levels is a shorter path.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project: ProjectConfig,
        registry: Registry,
        environment: EnvironmentConfig,
        images: Mapping[str, ServiceImage],
        web_dist: Path,
        checks_trusted_account: str | None = None,
    ) -> None:
        """``checks_trusted_account``: the account whose post-deploy checks (the pipeline's
        Verify step) may assume the checks' sign-in role, where the checks sign in."""
        super().__init__(
            scope,
            construct_id,
            env=Environment(account=environment.account, region=environment.region),
        )
        self._project = project
        self._registry = registry
        self._environment = environment
        self._prefix = environment_prefix(project.name, environment.name)
        self._checks_trusted_account = (
            checks_trusted_account if checks_sign_in(environment) else None
        )
        self._removal_policy = (
            RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
            if environment.protect_data
            else RemovalPolicy.DESTROY
        )
        # Budgets filter on project and environment; owner and cost center are for reports.
        budget_tags = {"project": project.name, "environment": environment.name}
        cost_tags = {**budget_tags, "owner": project.owner, "cost-center": project.cost_center}
        # Images live in the pipeline account's repositories; every stage pulls the same URIs.
        self.images = images

        self.stateful = self._stateful_stack()
        # The web app and the API behind one CloudFront domain. The API's internal ALB is
        # reachable only through CloudFront's VPC origin, so WAF on CloudFront (managed rules
        # and the per-IP rate limit, on the real client address) cannot be bypassed. There is
        # no regional web ACL on the ALB: it would only ever see CloudFront's addresses.
        self.edge = self._edge_stack() if environment.waf.enabled else None
        self.stateless = self._stateless_stack(images, web_dist=web_dist, cost_tags=budget_tags)

        # Cost allocation: every taggable resource of the environment carries these, in every
        # stack and region (the us-east-1 edge stack included).
        apply_cost_tags(self, cost_tags)
        # A failed first create must leave nothing behind that would block the retry.
        retain_except_on_create(self)

    def _identity(self, component: str, summary: str) -> dict[str, Any]:
        """Name, description and protection every stack of the environment shares.

        Termination protection on the stateless stack too: it may be replaced, but only on
        purpose (deleting it takes the environment's service, site and alarms down).
        """
        return {
            "stack_name": stack_name(self._project.name, self._environment.name, component),
            "description": f"{self._project.name} {self._environment.name}: {summary}",
            "termination_protection": self._environment.termination_protection,
        }

    def _stateful_stack(self) -> StatefulStack:
        environment = self._environment
        return StatefulStack(
            self,
            "Stateful",
            **self._identity(
                "stateful",
                "VPC, event topic, queues and dead-letter queues, Aurora, keys, user pool",
            ),
            network=environment.network,
            consumers={name: spec.consumes for name, spec in consumers_of(self._registry).items()},
            max_receive_count=environment.queue.max_receive_count,
            database=environment.database,
            # The name the former data stack gave the cluster, kept for forks that migrate.
            cluster_identifier=f"{self._prefix}-data-cluster",
            auth=environment.auth,
            auth_domain_prefix=effective_auth_domain_prefix(self._project, environment),
            log_retention_days=environment.log_retention_days,
            protect_data=environment.protect_data,
            removal_policy=self._removal_policy,
        )

    def _edge_stack(self) -> EdgeStack:
        """CloudFront's web ACL, in us-east-1 where CloudFront requires it.

        Its ARN reaches the stateless stack through CDK's cross-region references (an edge
        stack output read with Fn::GetStackOutput).
        """
        environment = self._environment
        return EdgeStack(
            self,
            "Edge",
            **self._identity("edge", "CloudFront web ACL"),
            env=Environment(account=environment.account, region=CLOUDFRONT_WAF_REGION),
            cross_region_references=True,
            acl_name=f"{self._prefix}-cloudfront",
            rate_limit=environment.waf.rate_limit,
        )

    def _stateless_stack(
        self,
        images: Mapping[str, ServiceImage],
        *,
        web_dist: Path,
        cost_tags: Mapping[str, str],
    ) -> StatelessStack:
        project, environment = self._project, self._environment
        services = ", ".join(self._registry)
        return StatelessStack(
            self,
            "Stateless",
            **self._identity(
                "stateless", f"ECS cluster, internal ALB, {services}, CloudFront, alarms, budget"
            ),
            cross_region_references=self.edge is not None,
            stateful=self.stateful,
            project=project.name,
            alarm_topic_name=alarm_topic_name(project.name, environment.name),
            health_alarm_prefix=health_alarm_prefix(project.name, environment.name),
            health_alarm_name=health_alarm_name(project.name, environment.name),
            registry=self._registry,
            sizes=environment.services,
            traffic_shift=environment.traffic_shift,
            checks=environment.checks,
            images=images,
            log_retention_days=environment.log_retention_days,
            protect_data=environment.protect_data,
            metrics_namespace=f"{project.name}/{environment.name}",
            trace_sample_ratio=environment.tracing.sample_ratio,
            alarm_emails=environment.alarms.emails,
            web_dist=web_dist,
            frontend=environment.frontend,
            web_acl_arn=self.edge.web_acl.arn if self.edge else None,
            auth=environment.auth,
            checks_role_name=checks_role_name(project.name, environment.name),
            checks_trusted_account=self._checks_trusted_account,
            checks_trusted_role_name=verify_role_name(project.name, environment.name),
            api_path_pattern=http_service_of(self._registry)[1].path_pattern,
            removal_policy=self._removal_policy,
            budget_name=f"{self._prefix}-monthly",
            budget=environment.budget,
            cost_tags=cost_tags,
        )


# CloudFormation rejects Tags on the proxy target group although its schema lists them.
# CloudFront refuses any in-place update of a VPC origin a distribution uses, tags included
# (409), so a changed cost tag would fail the frontend deploy; the distribution, which
# carries the traffic charges, keeps its tags.
UNTAGGED_TYPES = ["AWS::RDS::DBProxyTargetGroup", "AWS::CloudFront::VpcOrigin"]
# CDK's custom resource providers write these as raw CfnResources, out of the Tags aspect's
# reach (policies/checks/cost_tags.py requires the tags on them too).
_RAW_TAGGABLE_TYPES = {"AWS::IAM::Role", "AWS::Lambda::Function"}


def apply_cost_tags(scope: IConstruct, tags: Mapping[str, str]) -> None:
    """Tag every taggable resource below ``scope`` (call it once every resource exists)."""
    # One Tags object for every key: each Tags.of is a round trip to node.
    tagger = Tags.of(scope)
    for key, value in tags.items():
        tagger.add(key, value, exclude_resource_types=UNTAGGED_TYPES)
    tag_list = [{"Key": key, "Value": tags[key]} for key in sorted(tags)]
    for construct in scope.node.find_all():
        # Exactly CfnResource: a raw resource, which jsii hands over as the base class. An L1
        # class (iam.CfnRole...) is taggable, so the Tags aspect has it; testing the Python
        # type first saves reading the type name of every resource back from node.
        if (
            type(construct) is CfnResource
            and construct.cfn_resource_type in _RAW_TAGGABLE_TYPES
            and not TagManager.is_taggable(construct)
        ):
            construct.add_property_override("Tags", tag_list)
