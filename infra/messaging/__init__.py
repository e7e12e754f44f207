from infra.messaging.queues import WorkQueue
from infra.messaging.stack import MessagingStack

__all__ = ["MessagingStack", "WorkQueue"]
