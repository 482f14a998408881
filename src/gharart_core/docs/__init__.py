"""docs area of the core."""
