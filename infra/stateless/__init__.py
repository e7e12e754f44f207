from infra.stateless.stack import StatelessStack

__all__ = ["StatelessStack"]
