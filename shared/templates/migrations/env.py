"""How Alembic reaches the database: the app's own connection when it migrates at start, or
DATABASE_URL when `alembic upgrade head` is run by hand."""

from alembic import context
from sqlalchemy import create_engine

from app.config import Settings

connection = context.config.attributes.get("connection")


def run(conn) -> None:
    # batch mode: SQLite rebuilds a table for what its ALTER TABLE cannot do.
    context.configure(connection=conn, target_metadata=None, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:
    engine = create_engine(Settings().database_url)
    with engine.connect() as conn:
        run(conn)
        conn.commit()
    engine.dispose()
