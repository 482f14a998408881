"""SQLAlchemy 2 Core adapters: tables, repositories, unit of work and Alembic migrations."""
