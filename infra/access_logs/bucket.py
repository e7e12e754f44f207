"""A bucket that receives S3 server access logs from the other buckets of a stack."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.compliance import acknowledge_nag, skip_checkov
from infra.escape_hatch import cfn_resource


def log_sink_bucket(
    scope: Construct,
    construct_id: str,
    *,
    expiration: Duration,
    removal_policy: RemovalPolicy,
    sink_of: str | None = None,
    object_ownership: s3.ObjectOwnership = s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
) -> s3.Bucket:
    """A private, TLS-only, versioned, SSE-S3 bucket that only receives logs, then expires them.

    S3 server access logging can only deliver to SSE-S3 buckets, hence no KMS here.
    ``sink_of`` names the log sources in the reason for not logging the sink itself.
    """
    bucket = s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        versioned=True,
        object_ownership=object_ownership,
        removal_policy=removal_policy,
        lifecycle_rules=[
            s3.LifecycleRule(
                expiration=expiration,
                noncurrent_version_expiration=Duration.days(7),
                abort_incomplete_multipart_upload_after=Duration.days(1),
            )
        ],
    )
    sink = f"the access-log sink of {sink_of}" if sink_of else "the access-log sink"
    no_recursion = (
        f"this bucket is {sink}; logging it into itself would recurse, "
        "and CloudTrail data events cover reads of it"
    )
    acknowledge_nag(bucket, "AwsSolutions-S1", no_recursion)
    skip_checkov(bucket, "CKV_AWS_18", no_recursion)
    return bucket


class AccessLogBucket(Construct):
    """A log sink that other buckets of the stack deliver their server access logs to."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        expiration: Duration,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = log_sink_bucket(
            self, "Bucket", expiration=expiration, removal_policy=removal_policy
        )

    def accept_logs_from(self, source: s3.IBucket, *, prefix: str) -> None:
        """Turn on server access logging of ``source`` into this bucket under ``prefix``.

        Works for buckets created by other constructs (e.g. the CDK Pipelines artifact bucket)
        by setting the CloudFormation property directly, and lets only that bucket's log
        delivery write, only under its prefix.
        """
        logging = s3.CfnBucket.LoggingConfigurationProperty(
            destination_bucket_name=self.bucket.bucket_name, log_file_prefix=prefix
        )
        cfn_resource(source, s3.CfnBucket).logging_configuration = logging
        stack = Stack.of(self)
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[self.bucket.arn_for_objects(f"{prefix}*")],
                conditions={
                    "ArnLike": {"aws:SourceArn": source.bucket_arn},
                    "StringEquals": {"aws:SourceAccount": stack.account},
                },
            )
        )
