"""The police 24/7 desk: server-rendered pages (Jinja2 + htmx, vendored under ``static/``) inside the API app.

``install(app, settings)`` adds it; ``routes`` holds the pages, ``session`` the cookie, CSRF and role checks,
``views`` what the pages compute, ``i18n`` the Russian and English catalogues.
"""

from zaslon.adapters.http.desk.routes import install

__all__ = ["install"]
