"""The dashboard stores nothing of its own: it is a client of the other areas' API."""

REPOSITORIES: dict[str, object] = {}
