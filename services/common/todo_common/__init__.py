"""Shared runtime layer of the Todo services (API now, queue worker next).

Typed settings from the environment, JSON logging, the SQLAlchemy engine and
unit of work, the ORM models and the Alembic migrations live here so every
service reads the same variables, writes the same log shape and touches the
database through the same transaction boundary.
"""
