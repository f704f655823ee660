"""engine/remote."""
