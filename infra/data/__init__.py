from infra.data.stack import DataStack

__all__ = ["DataStack"]
