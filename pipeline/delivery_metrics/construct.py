"""Delivery metrics: pipeline execution events -> a small function -> CloudWatch + dashboard."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.compliance import acknowledge_wildcards, ignore_cfn_lint, skip_checkov
from infra.escape_hatch import cfn_resource
from infra.service_grants import (
    allow_log_encryption,
    allow_log_streams,
    allow_service_send_encrypted,
)
from pipeline.delivery_metrics.runtime.handler import NAMESPACE

HANDLER_DIR = Path(__file__).resolve().parent / "runtime"


class DeliveryMetrics(Construct):
    """Deployment frequency, lead time, change failure rate and time to restore."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline: codepipeline.IPipeline,
        pipeline_name: str,
        environment_stages: Sequence[str],
        code_dir: Path = HANDLER_DIR,
    ) -> None:
        super().__init__(scope, construct_id)
        parameter_name = f"/{pipeline_name}/delivery/failing-since"

        self.key = kms.Key(
            self,
            "Key",
            description="Encrypts the delivery-metrics function's settings and its DLQ",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=logs.RetentionDays.THREE_MONTHS,
            encryption_key=self.key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        allow_log_encryption(self.key)
        # EventBridge puts the events it cannot deliver into the dead-letter queue itself.
        allow_service_send_encrypted(self.dead_letters, service="events.amazonaws.com")
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Publishes delivery metrics of the pipeline",
        )
        self.function = self._function(
            role=role,
            code_dir=code_dir,
            parameter_name=parameter_name,
            environment_stages=environment_stages,
        )
        self._grant(role, pipeline=pipeline, parameter_name=parameter_name)
        self._explain(role)
        self._trigger_on_finished_executions(pipeline_name)
        self.dashboard = self._dashboard(pipeline_name)

    def _function(
        self,
        *,
        role: iam.IRole,
        code_dir: Path,
        parameter_name: str,
        environment_stages: Sequence[str],
    ) -> lambda_.Function:
        return lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler="handler.handler",
            code=lambda_.Code.from_asset(str(code_dir), exclude=["__pycache__", "*.pyc"]),
            role=role,
            log_group=self.log_group,
            timeout=Duration.seconds(30),
            memory_size=256,
            # One at a time: the "failing since" marker is read and written per event.
            reserved_concurrent_executions=1,
            dead_letter_queue=self.dead_letters,
            environment_encryption=self.key,
            environment={
                "FAILING_SINCE_PARAMETER": parameter_name,
                "ENVIRONMENT_STAGES": ",".join(environment_stages),
            },
        )

    def _grant(
        self, role: iam.Role, *, pipeline: codepipeline.IPipeline, parameter_name: str
    ) -> None:
        """Read the pipeline's executions, keep the marker, publish the metrics, log."""
        stack = Stack.of(self)
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["codepipeline:GetPipelineExecution", "codepipeline:ListActionExecutions"],
                resources=[pipeline.pipeline_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["ssm:GetParameter", "ssm:PutParameter", "ssm:DeleteParameter"],
                resources=[
                    stack.format_arn(
                        service="ssm", resource="parameter", resource_name=parameter_name[1:]
                    )
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": NAMESPACE}},
            )
        )
        allow_log_streams(role, self.log_group)
        # Lambda sends a failed event to the dead-letter queue with this role, and SQS
        # encrypts it with the queue's key on the sender's behalf.
        # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[self.key.key_arn],
                conditions={
                    "StringEquals": {"kms:ViaService": f"sqs.{stack.region}.amazonaws.com"}
                },
            )
        )

    def _explain(self, role: iam.Role) -> None:
        acknowledge_wildcards(
            cfn_resource(role.node.find_child("DefaultPolicy"), iam.CfnPolicy),
            "PutMetricData has no resource form and is limited to the DeliveryMetrics namespace "
            "by condition; log streams are those of this function's own log group; KMS "
            "wildcards are the GenerateDataKey*/ReEncrypt* actions on this construct's key",
        )
        skip_checkov(
            role.node.find_child("DefaultPolicy"),
            "CKV_TODO_7",
            "cloudwatch:PutMetricData has no resource-level form; a condition limits it to "
            "the DeliveryMetrics namespace",
        )
        skip_checkov(
            self.dead_letters,
            "CKV_TODO_4",
            "this queue is the function's own dead-letter queue (Lambda DeadLetterConfig), "
            "the end of the line: failed events stay here 14 days for inspection",
        )
        skip_checkov(
            self.function,
            "CKV_AWS_117",
            "it only calls the CodePipeline, SSM and CloudWatch APIs of this account; a VPC "
            "would need NAT or endpoints for no isolation gain",
        )
        ignore_cfn_lint(
            self.function,
            "W3005",
            "CDK makes the function depend on its role and the role's policy so the policy "
            "exists before the first invocation; the role half is redundant but harmless",
        )

    def _trigger_on_finished_executions(self, pipeline_name: str) -> None:
        """Each finished execution of the pipeline invokes the function (retried, then DLQ)."""
        events.Rule(
            self,
            "ExecutionFinished",
            description="Finished executions of the delivery pipeline feed the delivery metrics",
            event_pattern=events.EventPattern(
                source=["aws.codepipeline"],
                detail_type=["CodePipeline Pipeline Execution State Change"],
                detail={"pipeline": [pipeline_name], "state": ["SUCCEEDED", "FAILED"]},
            ),
            targets=[
                targets.LambdaFunction(
                    self.function, dead_letter_queue=self.dead_letters, retry_attempts=3
                )
            ],
        )

    def _dashboard(self, pipeline_name: str) -> cloudwatch.Dashboard:
        def metric(name: str, statistic: str, period_days: int = 1) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=NAMESPACE,
                metric_name=name,
                dimensions_map={"Pipeline": pipeline_name},
                statistic=statistic,
                period=Duration.days(period_days),
            )

        deployments = metric("Deployments", "Sum")
        failure_rate = cloudwatch.MathExpression(
            expression="100 * FILL(failures, 0) / (FILL(deployments, 0) + FILL(failures, 0))",
            using_metrics={
                "deployments": metric("Deployments", "Sum", period_days=7),
                "failures": metric("ChangeFailures", "Sum", period_days=7),
            },
            label="change failure rate (%)",
            period=Duration.days(7),
        )
        dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=f"{pipeline_name}-metrics"
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Deployment frequency (prod, per day)", left=[deployments]
            ),
            cloudwatch.GraphWidget(
                title="Lead time for changes (commit to prod, seconds)",
                left=[metric("LeadTimeSeconds", "Average"), metric("LeadTimeSeconds", "p90")],
            ),
            cloudwatch.GraphWidget(title="Change failure rate (%, weekly)", left=[failure_rate]),
            cloudwatch.GraphWidget(
                title="Time to restore (seconds)", left=[metric("TimeToRestoreSeconds", "Average")]
            ),
        )
        return dashboard
