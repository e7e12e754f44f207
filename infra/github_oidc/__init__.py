from infra.github_oidc.github_oidc import GitHubOidc
from infra.github_oidc.provider import AUDIENCE, ISSUER_URL
from infra.github_oidc.trust import branch_subject

__all__ = ["AUDIENCE", "ISSUER_URL", "GitHubOidc", "branch_subject"]
