"""sites area of the core."""
