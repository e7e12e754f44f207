from infra.services.services import Services
from infra.services.stack import ServicesStack

__all__ = ["Services", "ServicesStack"]
