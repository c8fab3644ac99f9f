"""The demo community: a deterministic district-heating community fed through the ledger's own
ingestion path. ``community.generate_community`` is pure; ``loader.load_community`` calls the ledger."""
