"""M-Bus framing, decoding, mapping and ingestion; the frame encoder the tests build frames with."""
