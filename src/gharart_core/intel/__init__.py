"""intel area of the core."""
