from infra.waf.stack import EdgeStack
from infra.waf.web_acl import AlbWaf, ManagedRulesWebAcl

__all__ = ["AlbWaf", "EdgeStack", "ManagedRulesWebAcl"]
