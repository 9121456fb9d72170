"""Exchange's Celery application: `celery -A worker worker` and `celery -A worker beat`.

The Celery app is configured from the same environment as the web app (config.py). Tasks run
inside a Flask application context, created once per worker process; they receive ids, never
ORM objects, and call exchange operations.
"""

from .celery_app import celery

__all__ = ["celery"]
