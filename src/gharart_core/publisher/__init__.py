"""publisher area of the core."""
