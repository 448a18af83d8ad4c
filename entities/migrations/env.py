"""Alembic environment: always run on the connection entities.store hands over (never a URL from a file)."""

from alembic import context
from sqlmodel import SQLModel

from entities import models  # noqa: F401

target_metadata = SQLModel.metadata
connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
