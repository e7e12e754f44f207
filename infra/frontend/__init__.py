from infra.frontend.site import StaticSite
from infra.frontend.stack import FrontendStack

__all__ = ["FrontendStack", "StaticSite"]
