"""Alembic revisions (a package so the wheel ships them)."""
