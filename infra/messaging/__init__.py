from infra.messaging.events import Messaging, add_messaging
from infra.messaging.queues import WorkQueue

__all__ = ["Messaging", "WorkQueue", "add_messaging"]
