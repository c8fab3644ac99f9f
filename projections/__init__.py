"""Read models: SQLAlchemy tables built from the ledger's events, and the catch-up that builds them."""
