"""files area of the core."""
