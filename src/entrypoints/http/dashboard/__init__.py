"""Dashboard pages, one module per section; ``routes/dashboard.py`` lists them in ``ROUTES``.

Templates and static files live next to these modules.
"""
