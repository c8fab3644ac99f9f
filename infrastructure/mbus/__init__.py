"""M-Bus (EN 13757-3) acquisition: framing, the adapter over pymeterbus, the mapping to readings,
and the ingestion service (docs/mbus.md)."""
