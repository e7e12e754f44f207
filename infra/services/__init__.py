from infra.services.services import Services

__all__ = ["Services"]
