"""Persistence: SQLAlchemy 2.0 typed ORM, sessions, repositories, Alembic migrations."""
