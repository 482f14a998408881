"""Adapters: implementations of the core's ports (memory, SQL, object stores, HTTP, mail)."""
