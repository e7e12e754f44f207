from infra.data.database import Database

__all__ = ["Database"]
