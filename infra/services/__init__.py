from infra.services.services import Services, alarm_topic_name
from infra.services.stack import ServicesStack

__all__ = ["Services", "ServicesStack", "alarm_topic_name"]
