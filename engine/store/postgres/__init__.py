"""The team library's store: PostgreSQL with pgvector, the same records and rules as the SQLite file."""
