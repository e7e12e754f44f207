from infra.waf.stack import EdgeStack
from infra.waf.web_acl import ManagedRulesWebAcl

__all__ = ["EdgeStack", "ManagedRulesWebAcl"]
