"""support area of the core."""
