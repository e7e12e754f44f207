from pipeline.github_oidc.github_oidc import GitHubOidc
from pipeline.github_oidc.provider import AUDIENCE, ISSUER_URL
from pipeline.github_oidc.trust import branch_subject

__all__ = ["AUDIENCE", "ISSUER_URL", "GitHubOidc", "branch_subject"]
