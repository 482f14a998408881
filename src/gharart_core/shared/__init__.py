"""Shared kernel: ids, clock, tokens, errors, pagination, idempotency and audit models."""
