from infra.stateful.stack import StatefulStack

__all__ = ["StatefulStack"]
