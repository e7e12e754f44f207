"""Base class of every stack deployed into an environment."""

from __future__ import annotations

from aws_cdk import Fn, Stack

# A region has at least three AZs wherever this project is allowed to deploy (config caps
# max_azs at 3), so three Fn::GetAZs slots always resolve.
_AZ_SLOTS = 3


class EnvironmentStack(Stack):
    """A stack with a concrete account/region whose AZs resolve at deploy time.

    With an explicit environment, CDK would look the AZ names up at synth time, which needs
    AWS credentials or committed context per account, and then hardcodes them in the template
    (cfn-lint W3010). Resolving them with Fn::GetAZs keeps synth offline and the template
    portable across the accounts of a fork.
    """

    @property
    def availability_zones(self) -> list[str]:
        return [Fn.select(index, Fn.get_azs()) for index in range(_AZ_SLOTS)]
