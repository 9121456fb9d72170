"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""

import gc

from exchange import create_app

app = create_app()
# What the app holds for its lifetime (modules, templates, translations, mappers) is never
# garbage: kept out of the collector's full passes, which otherwise walk it all every few
# requests of a page that builds many objects (a draft's page with hundreds of offerings).
gc.freeze()
