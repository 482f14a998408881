"""Entrypoints: containers, settings, the Litestar app, the CLI and the in-memory harness."""
