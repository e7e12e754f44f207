from infra.frontend.site import StaticSite

__all__ = ["StaticSite"]
