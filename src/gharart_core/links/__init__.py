"""links area of the core."""
