from infra.messaging.stack import MessagingStack

__all__ = ["MessagingStack"]
