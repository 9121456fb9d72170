from datetime import timedelta
from pathlib import Path

from celery import Celery, Task, signals

from config import config_for, mail_timing

from . import broker


class FlaskTask(Task):
    """Runs every task inside the Flask application's context."""

    abstract = True

    def __call__(self, *args, **kwargs):
        with flask_app().app_context():
            return super().__call__(*args, **kwargs)


broker.install()
celery = Celery("exchange", task_cls=FlaskTask, include=["worker.tasks"])
_flask_app = None


def flask_app():
    global _flask_app
    if _flask_app is None:
        # On purpose inside: exchange imports this module at its top (see worker/tasks.py).
        from exchange import create_app

        create_app()  # binds itself through init_celery
    return _flask_app


def celery_settings(config):
    broker = config["BROKER_URL"]
    settings = {
        "broker_url": broker,
        "task_ignore_result": True,
        "result_backend": None,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_serializer": "json",
        "accept_content": ["json"],
        "timezone": "UTC",
        "enable_utc": True,
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 3,
        # A request publishing after commit must not hang when the broker is down; the
        # outbox relay picks up what could not be published.
        "task_publish_retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 0.2},
        "beat_schedule": beat_schedule(config),
        "beat_schedule_filename": str(Path(config["INSTANCE_DIR"]) / "celerybeat-schedule"),
    }
    if broker.startswith("filesystem://"):
        folder = Path(config["BROKER_FOLDER"])
        for sub in ("queue", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        settings["broker_transport_options"] = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
        }
    elif broker.startswith(("redis://", "rediss://")):
        # Longer than any task's countdown, so a late-acked task is not delivered twice.
        settings["broker_transport_options"] = {"visibility_timeout": 3600}
    return settings


def beat_schedule(config=None):
    """What beat runs, and how often (the relay from MAIL_RELAY_SECONDS; without a config, as
    set in the environment)."""
    relay_every = timedelta(seconds=(config or _env_settings)["MAIL_RELAY_SECONDS"])
    return {
        "relay-outbox": {"task": "exchange.mail.relay", "schedule": relay_every},
        "heartbeat": {"task": "exchange.worker.heartbeat", "schedule": timedelta(minutes=1)},
        "advance-calls": {"task": "exchange.calls.advance", "schedule": timedelta(minutes=1)},
        "relay-reset-requests": {
            "task": "exchange.accounts.relay_reset_requests",
            "schedule": timedelta(minutes=1),
        },
        "reminders": {
            "task": "exchange.notifications.reminders",
            "schedule": timedelta(minutes=5),
        },
        "offers": {"task": "exchange.selection.offers", "schedule": timedelta(minutes=5)},
        "digests": {"task": "exchange.notifications.digests", "schedule": timedelta(minutes=15)},
        "finalise-publications": {
            "task": "exchange.selection.finalise_publications",
            "schedule": timedelta(minutes=5),
        },
    }


def init_celery(app):
    """Bind the Celery app to a Flask app (called by create_app)."""
    global _flask_app
    _flask_app = app
    celery.conf.update(celery_settings(app.config))
    app.extensions["celery"] = celery
    return celery


# Without a Flask app yet (celery CLI), configure from the environment so that beat and the
# worker know the broker; the worker then builds the Flask app before taking tasks.
_env_config = config_for()
_env_settings = mail_timing(
    {key: getattr(_env_config, key) for key in dir(_env_config) if key.isupper()}
    | {"INSTANCE_DIR": _env_config.INSTANCE_DIR}
)
celery.conf.update(celery_settings(_env_settings))


@signals.worker_init.connect
def _build_app(**_kwargs):
    flask_app()
