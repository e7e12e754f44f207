"""A bucket that receives S3 server access logs from the other buckets of a stack."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.compliance import acknowledge_nag, skip_checkov
from infra.escape_hatch import cfn_resource


class AccessLogBucket(Construct):
    """Private, TLS-only, versioned, S3-encrypted log sink with a lifecycle.

    S3 server access logging can only deliver to SSE-S3 buckets, hence no KMS here.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        expiration: Duration,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=removal_policy,
            auto_delete_objects=False,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=expiration,
                    noncurrent_version_expiration=Duration.days(7),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )
        no_recursion = (
            "this bucket is the access-log sink; logging it into itself would recurse, "
            "and CloudTrail data events cover reads of it"
        )
        acknowledge_nag(self.bucket, "AwsSolutions-S1", no_recursion)
        skip_checkov(self.bucket, "CKV_AWS_18", no_recursion)

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
