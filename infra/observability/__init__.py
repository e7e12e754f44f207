from infra.observability.monitoring import Monitoring
from infra.observability.stack import ObservabilityStack

__all__ = ["Monitoring", "ObservabilityStack"]
