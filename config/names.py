"""Names and bounds derived from the configuration, used by more than one layer.

The CDK code names a resource with these and the commands `make` runs find it by the same
name, so each is derived in exactly one place.
"""

from __future__ import annotations


def pipeline_name(project: str) -> str:
    """The CodePipeline pipeline: what notifications, metrics and `make release-change` name."""
    return f"{project}-delivery"


def pipeline_stack_name(project: str) -> str:
    """The one stack a person deploys by hand; every other stack the pipeline deploys."""
    return f"{project}-pipeline"


def environment_prefix(project: str, environment: str) -> str:
    """What every resource name of one environment starts with, stack names included."""
    return f"{project}-{environment}"


def stack_name(project: str, environment: str, component: str) -> str:
    """One environment stack, e.g. ``todo-prod-stateless``."""
    return f"{environment_prefix(project, environment)}-{component}"


def github_drift_role_name(project: str) -> str:
    """The role the drift workflow assumes, unless the config names another."""
    return f"{project}-github-drift"


def alarm_topic_name(project: str, environment: str) -> str:
    """The environment's alarm topic: the stateless stack creates it, others publish to it."""
    return f"{environment_prefix(project, environment)}-alarms"


# The roles `cdk bootstrap` creates in every account (default qualifier).
QUALIFIER = "hnb659fds"


def lookup_role_arn(account: str, region: str) -> str:
    """Read-only role (ReadOnlyAccess, KMS decrypt denied) the pipeline account may assume.

    Bootstrapping an environment with `--trust <pipeline account>` lets the pipeline read
    deployed templates (change reports) and alarm states (bake) through it; nothing more.
    """
    return f"arn:aws:iam::{account}:role/cdk-{QUALIFIER}-lookup-role-{account}-{region}"


def deploy_role_arn(account: str, region: str) -> str:
    """The role CDK's deploy actions assume: it creates change sets (passing the CloudFormation
    execution role) and reads the bootstrap bucket. The change report creates, reads and
    deletes review change sets through it and never executes one."""
    return f"arn:aws:iam::{account}:role/cdk-{QUALIFIER}-deploy-role-{account}-{region}"


def file_publishing_role_arn(account: str, region: str) -> str:
    """The role that writes the bootstrap bucket of ``account``/``region`` (CDK's asset
    publishing): the change report uploads each template there for CloudFormation to read."""
    return f"arn:aws:iam::{account}:role/cdk-{QUALIFIER}-file-publishing-role-{account}-{region}"


def health_alarm_prefix(project: str, environment: str) -> str:
    """The name prefix of the alarms that mean "the release running in this environment is
    unhealthy": infra names exactly those alarms under it, and the bake watches exactly the
    alarms under it, so what holds a promotion is chosen in one place.

    "/" cannot occur in a project or environment name (``Name``), so no environment's prefix
    is a prefix of another's ("dev" and "dev-eu" in one account); CloudWatch accepts it in
    alarm names (Application Auto Scaling's own alarms contain it).
    """
    return f"{project}-{environment}/health/"


def approval_stage_name(environment: str) -> str:
    """The pipeline stage that holds an environment's approval, just before its deploy stage."""
    return f"{environment}-approval"


def health_alarm_name(project: str, environment: str) -> str:
    """The composite alarm that is in ALARM while any health alarm of the environment is: the
    one alarm the next environment's stage condition reads. Outside the prefix, so the bake,
    which watches the prefix, does not count it twice."""
    return health_alarm_prefix(project, environment).removesuffix("/")


# Parameter Store retains the 100 most recent versions of a parameter and deletes the oldest
# when a new one is written (SSM API reference, ParameterMaxVersionLimitExceeded).
RETAINED_VERSIONS = 100
# Never a prefix of an image's own tag, a hex content fingerprint (infra/images.py).
RELEASE_TAG_PREFIX = "release-"


def release_parameter_path(project: str) -> str:
    """The Parameter Store path under which every environment's release record lives."""
    return f"/{project}/releases/"


def release_parameter_name(project: str, environment: str) -> str:
    return release_parameter_path(project) + environment


def release_tag(digest: str) -> str:
    """The protecting tag of one image: 72 characters, within ECR's 128."""
    return RELEASE_TAG_PREFIX + digest.split(":", 1)[1]


def protected_image_bound(environments: int) -> int:
    """The most images the protecting lifecycle rule ever has to keep in one repository.

    Each environment's retained records reference at most RETAINED_VERSIONS images of a
    repository; one more per environment covers a record step that has tagged its image but
    not yet untagged the one its new version pushed out of the history.
    """
    return (RETAINED_VERSIONS + 1) * environments


def auth_domain_prefix(project: str, environment: str, account: str) -> str:
    """The environment's Cognito prefix domain unless the config names one.

    Prefix domains are global within a region: the account id keeps two forks' environments of
    the same name (two "todo-dev") apart, and the environment name keeps an account's apart.
    """
    return f"{environment_prefix(project, environment)}-{account}"


# All the post-deploy checks' role (and the blue/green hook) may do, on the one user pool: the
# pipeline's policy gate lets a pipeline step assume that role only while this is all it can.
CHECKS_ROLE_ACTIONS = (
    "cognito-idp:AdminCreateUser",
    "cognito-idp:AdminSetUserPassword",
    "cognito-idp:AdminInitiateAuth",
    "cognito-idp:AdminDeleteUser",
)


def verify_role_name(project: str, environment: str) -> str:
    """The pipeline's Verify step role of ``environment`` (its CodeBuild project's), named so
    that the checks role can trust it alone."""
    return f"{environment_prefix(project, environment)}-verify"


def checks_role_name(project: str, environment: str) -> str:
    """The role in the environment's account that the pipeline's Verify step assumes to
    create, sign in and delete the post-deploy checks' test user (nothing else)."""
    return f"{environment_prefix(project, environment)}-deployed-checks"
