"""store: SQLAlchemy models and repository functions. Imports nothing of ours."""
