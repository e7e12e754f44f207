"""The ECR repositories the pipeline owns: one per service, immutable, scanned on push."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from constructs import Construct

from config.names import RELEASE_TAG_PREFIX
from infra.images import ServiceImage

# Images no retained release record names: kept for rebuild-free reverts to recent commits.
# Released images are kept by the release tag rule however many newer images there are.
KEEP_IMAGES = 200
PULL_ACTIONS = [
    "ecr:BatchGetImage",
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
]
PUSH_ACTIONS = [
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
]


class ImageRepositories(Construct):
    """Repositories for every service image, readable by the environments' accounts only."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        images: Mapping[str, ServiceImage],
        pull_accounts: Iterable[str],
        protected_images: int,
    ) -> None:
        super().__init__(scope, construct_id)
        accounts = sorted(set(pull_accounts))
        self.repositories: dict[str, ecr.Repository] = {}
        self._names = [image.repository_name for image in images.values()]
        for name, image in sorted(images.items()):
            repository = ecr.Repository(
                self,
                name,
                repository_name=image.repository_name,
                image_tag_mutability=ecr.TagMutability.IMMUTABLE,
                image_scan_on_push=True,
                encryption=ecr.RepositoryEncryption.KMS,
                removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
                # ECR applies rules by priority, and an image that matches the tags of a rule
                # cannot be expired by a lower one: the first rule shields every image a
                # retained release record names (ops/release/record.py keeps the release tags
                # on exactly those images, at most protected_images of them).
                lifecycle_rules=[
                    ecr.LifecycleRule(
                        rule_priority=1,
                        description="images a retained release record names (release tag)",
                        tag_status=ecr.TagStatus.TAGGED,
                        tag_pattern_list=[f"{RELEASE_TAG_PREFIX}*"],
                        max_image_count=protected_images,
                    ),
                    ecr.LifecycleRule(
                        rule_priority=2,
                        description="untagged layers of interrupted pushes",
                        tag_status=ecr.TagStatus.UNTAGGED,
                        max_image_age=Duration.days(7),
                    ),
                    ecr.LifecycleRule(
                        rule_priority=3,
                        description=f"keep the newest {KEEP_IMAGES} images",
                        tag_status=ecr.TagStatus.ANY,
                        max_image_count=KEEP_IMAGES,
                    ),
                ],
            )
            if accounts:
                repository.add_to_resource_policy(
                    iam.PolicyStatement(
                        sid="PullFromEnvironmentAccounts",
                        principals=[iam.AccountPrincipal(account) for account in accounts],
                        actions=PULL_ACTIONS,
                    )
                )
            self.repositories[name] = repository

    @property
    def names(self) -> list[str]:
        """The repositories' names, sorted (plain strings, known at synthesis)."""
        return sorted(self._names)

    @property
    def arns(self) -> list[str]:
        return [repository.repository_arn for repository in self.repositories.values()]

    def push_statements(self) -> list[iam.PolicyStatement]:
        """What the image build needs: log in to the registry, push to these repositories."""
        return [
            iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]),
            iam.PolicyStatement(
                actions=[*PUSH_ACTIONS, *PULL_ACTIONS, "ecr:DescribeImages"], resources=self.arns
            ),
        ]

    def release_record_statements(self) -> list[iam.PolicyStatement]:
        """What the release record needs: read digests and manifests, add and remove tags."""
        return [
            iam.PolicyStatement(
                actions=[
                    "ecr:DescribeImages",
                    "ecr:ListImages",
                    "ecr:BatchGetImage",
                    "ecr:PutImage",
                    # Removes a release tag only, and only where the image keeps another tag.
                    "ecr:BatchDeleteImage",
                ],
                resources=self.arns,
            )
        ]

    def scan_read_statements(self) -> list[iam.PolicyStatement]:
        return [
            iam.PolicyStatement(
                actions=["ecr:DescribeImages", "ecr:DescribeImageScanFindings"],
                resources=self.arns,
            )
        ]
