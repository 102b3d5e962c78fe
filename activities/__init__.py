"""ActivityStreams vocabulary: pure converters between node's domain objects and AS2 JSON."""
