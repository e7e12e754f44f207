from infra.services.stack import ServicesStack

__all__ = ["ServicesStack"]
