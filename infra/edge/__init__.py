from infra.edge.stack import EdgeStack
from infra.edge.web_acl import ManagedRulesWebAcl

__all__ = ["EdgeStack", "ManagedRulesWebAcl"]
