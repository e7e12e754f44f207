"""Traces of one service's task, to AWS X-Ray: an ADOT collector beside the app's container.

The app exports its spans over OTLP/HTTP to the collector on the task's loopback (the
containers of an awsvpc task share one network namespace, so nothing outside the task can
reach the port); the collector batches them and sends them with the task role's credentials
to X-Ray (PutTraceSegments) in the stack's region. Why this path, what it costs and what to do
when traces do not show up: docs/tracing.md.

The collector is never essential: when it stops, fails its health check or cannot reach X-Ray,
the app keeps serving and only its spans are lost. The app depends on the collector's START only
(not its health): ECS then stops the two in reverse order, so the collector still takes the spans
of the app's drain, and a collector that starts and fails keeps nothing from starting.
"""

from __future__ import annotations

from typing import Any

import yaml
from aws_cdk import Duration, Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.compliance import acknowledge_wildcards, skip_checkov
from infra.escape_hatch import cfn_resource

# The AWS Distro for OpenTelemetry collector from ECR Public, the only registry besides our own
# ECR that policies/images.py admits, pinned by the digest of the release's multi-arch index.
COLLECTOR_VERSION = "v0.48.0"
COLLECTOR_DIGEST = "sha256:9b28046359054b414f4ba76056ba4e8cffda2d53fbcee06171d7eeecd71326c3"
COLLECTOR_IMAGE = (
    f"public.ecr.aws/aws-observability/aws-otel-collector:{COLLECTOR_VERSION}@{COLLECTOR_DIGEST}"
)
# The container's name: a hyphen, so it never clashes with a registry service's (letters and
# digits only, config.model.SERVICE_NAME_PATTERN) nor with its environment variable prefix.
COLLECTOR_NAME = "otel-collector"
# The image's own unprivileged user (`aoc`, uid and gid 4317 in its Dockerfile), named again
# here so that an upstream image that went back to root would still run without it.
COLLECTOR_USER = "4317:4317"
# Its share of the task: 1/16 vCPU reserved and 256 MiB at most (at 128 MiB the Go collector
# spends its time in forced garbage collection). The app keeps the rest.
COLLECTOR_CPU = 64
COLLECTOR_MEMORY_RESERVATION_MIB = 64
COLLECTOR_MEMORY_LIMIT_MIB = 256
# The memory_limiter refuses spans above this (the app's exporter retries, then drops them),
# well below the container's hard limit, where the kernel would kill the collector; the Go
# runtime is told the same budget, so it collects before the limiter has to refuse.
MEMORY_LIMITER_LIMIT_MIB = 200
MEMORY_LIMITER_SPIKE_MIB = 50
GO_MEMORY_LIMIT = "200MiB"
# The collector is stopped after the app (the app depends on its start, and ECS stops in
# reverse): this long to export what the app sent while it drained.
COLLECTOR_STOP_TIMEOUT = Duration.seconds(10)

LOOPBACK = "127.0.0.1"
OTLP_HTTP_PORT = 4318
# The health_check extension's port: the image's /healthcheck asks 127.0.0.1 on it.
HEALTH_CHECK_PORT = 13133
TRACES_ENDPOINT = f"http://{LOOPBACK}:{OTLP_HTTP_PORT}/v1/traces"
# X-Ray has no resource type for these: IAM accepts only Resource "*"
# (policies/required-wildcards.yaml). No sampling actions: sampling is the SDK's.
XRAY_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")

WILDCARD_REASON = (
    "xray:PutTraceSegments and xray:PutTelemetryRecords have no resource type, so IAM accepts "
    "only Resource '*'; this policy holds nothing else and is attached to this task's role alone"
)


def app_environment(*, sample_ratio: float) -> dict[str, str]:
    """What the app's container reads to export its traces to the collector."""
    if not 0 <= sample_ratio <= 1:
        raise ValueError(f"a sample ratio is between 0 and 1, got {sample_ratio!r}")
    return {
        "TRACING_EXPORTER": "otlp",
        "TRACING_ENDPOINT": TRACES_ENDPOINT,
        "TRACING_SAMPLE_RATIO": str(float(sample_ratio)),
    }


def collector_config(*, region: str) -> dict[str, Any]:
    """The collector's whole configuration: OTLP/HTTP on loopback in, X-Ray out, traces only."""
    return {
        "extensions": {"health_check": {"endpoint": f"{LOOPBACK}:{HEALTH_CHECK_PORT}"}},
        "receivers": {
            "otlp": {"protocols": {"http": {"endpoint": f"{LOOPBACK}:{OTLP_HTTP_PORT}"}}}
        },
        "processors": {
            # First in the pipeline, so that it refuses data before anything else holds it.
            "memory_limiter": {
                "check_interval": "1s",
                "limit_mib": MEMORY_LIMITER_LIMIT_MIB,
                "spike_limit_mib": MEMORY_LIMITER_SPIKE_MIB,
            },
            # One PutTraceSegments call's worth (the exporter sends at most 50 segments a
            # call, the API's limit), or what came within 5 s.
            "batch": {"timeout": "5s", "send_batch_size": 50},
        },
        "exporters": {"awsxray": {"region": region}},
        "service": {
            "extensions": ["health_check"],
            # No metrics endpoint of its own: nothing scrapes it, and it would be one more port.
            "telemetry": {"metrics": {"level": "none"}},
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["memory_limiter", "batch"],
                    "exporters": ["awsxray"],
                }
            },
        },
    }


class TraceCollector(Construct):
    """The ADOT collector container in ``task_definition`` and the task role's X-Ray grant.

    Its logs go to ``log_group`` (the service's) under their own stream prefix. ``container``
    is the collector's definition, ``policy`` the grant (its own policy, so that the one
    exception for Resource "*" covers these two actions and nothing the service adds later).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        task_definition: ecs.FargateTaskDefinition,
        log_group: logs.ILogGroup,
        stream_prefix: str,
    ) -> None:
        super().__init__(scope, construct_id)
        region = Stack.of(self).region
        self.config = collector_config(region=region)
        self.container = task_definition.add_container(
            COLLECTOR_NAME,
            image=ecs.ContainerImage.from_registry(COLLECTOR_IMAGE),
            essential=False,
            cpu=COLLECTOR_CPU,
            memory_reservation_mib=COLLECTOR_MEMORY_RESERVATION_MIB,
            memory_limit_mib=COLLECTOR_MEMORY_LIMIT_MIB,
            user=COLLECTOR_USER,
            readonly_root_filesystem=True,
            # The image reads this variable in preference to its --config file.
            environment={
                "AOT_CONFIG_CONTENT": yaml.safe_dump(self.config, sort_keys=False),
                "GOMEMLIMIT": GO_MEMORY_LIMIT,
            },
            stop_timeout=COLLECTOR_STOP_TIMEOUT,
            logging=ecs.LogDrivers.aws_logs(
                stream_prefix=stream_prefix,
                log_group=log_group,
                mode=ecs.AwsLogDriverMode.NON_BLOCKING,
            ),
            health_check=ecs.HealthCheck(
                command=["CMD", "/healthcheck"],
                interval=Duration.seconds(30),
                timeout=Duration.seconds(5),
                retries=3,
                start_period=Duration.seconds(10),
            ),
            # A collector that crashes comes back without replacing the task (once a minute
            # at most); the app never notices either way.
            enable_restart_policy=True,
            restart_attempt_period=Duration.seconds(60),
        )
        self.policy = iam.Policy(
            self,
            "XRayWrite",
            roles=[task_definition.task_role],
            statements=[iam.PolicyStatement(actions=list(XRAY_ACTIONS), resources=["*"])],
        )
        resource = cfn_resource(self.policy, iam.CfnPolicy)
        acknowledge_wildcards(resource, WILDCARD_REASON)
        skip_checkov(resource, "CKV_TODO_7", WILDCARD_REASON)
