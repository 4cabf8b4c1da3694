"""The domain: the mission's rules as pure functions and pydantic models.

No I/O here: no database, no files, no web framework (an import-linter contract forbids
SQLAlchemy, FastAPI, Alembic and the other portfolio layers). Everything else builds on it.
"""
