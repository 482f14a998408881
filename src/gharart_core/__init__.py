"""Gharart core: the pure domain of the publishing platform.

This package knows no web framework, database driver or HTTP client. Adapters
implement the ports declared in each area's ``ports`` module.
"""

__all__: list[str] = []
__version__ = "0.1.0"
