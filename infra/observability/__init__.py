from infra.observability.monitoring import Monitoring

__all__ = ["Monitoring"]
