from infra.data.database import Database
from infra.data.stack import DataStack

__all__ = ["DataStack", "Database"]
