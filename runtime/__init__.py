"""The worker runtime: connection, data converter, payload codec and keys."""
