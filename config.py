"""Settings, read from the environment (and an optional `.env` file).

Every variable is documented in README.md ("Configuration"). `create_app()` picks the class
named by EXCHANGE_ENV (development, production, testing); tests pass overrides directly.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent
load_dotenv(BASE_DIR / ".env")


def _env(name, default=None):
    value = os.environ.get(name)
    return default if value in (None, "") else value


def _env_bool(name, default=False):
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name, default):
    return int(_env(name, default))


INSTANCE = Path(_env("EXCHANGE_INSTANCE_DIR") or BASE_DIR / "instance")


def _secret_key(instance_dir, required):
    """Return SECRET_KEY from the environment, or one generated once and kept in instance/."""
    key = _env("SECRET_KEY")
    if key:
        return key
    if required:
        raise RuntimeError("SECRET_KEY must be set in production (see README, Configuration).")
    path = Path(instance_dir) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


class Config:
    ENV_NAME = "base"
    DEBUG = False
    TESTING = False
    INSTANCE_DIR = str(INSTANCE)

    SQLALCHEMY_DATABASE_URI = _env("DATABASE_URL", f"sqlite:///{INSTANCE / 'exchange.db'}")
    # Connections are recycled instead of pinged before each use: a ping is a round trip on
    # every request. After a database restart, the first request on a dead connection fails.
    SQLALCHEMY_ENGINE_OPTIONS = {
        "pool_pre_ping": _env_bool("DATABASE_PRE_PING", False),
        "pool_recycle": _env_int("DATABASE_POOL_RECYCLE", 1800),
    }

    # Celery. The default broker needs no server: kombu's filesystem transport under instance/.
    BROKER_URL = _env("BROKER_URL", _env("REDIS_URL", "filesystem://"))
    BROKER_FOLDER = _env("BROKER_FOLDER", str(INSTANCE / "broker"))

    # Mail: "outbox" writes .eml files to MAIL_OUTBOX_DIR, "smtp" sends.
    MAIL_BACKEND = _env("MAIL_BACKEND", "outbox")
    MAIL_OUTBOX_DIR = _env("MAIL_OUTBOX_DIR", str(INSTANCE / "outbox"))
    MAIL_SERVER = _env("MAIL_SERVER", "localhost")
    MAIL_PORT = _env_int("MAIL_PORT", 25)
    MAIL_USERNAME = _env("MAIL_USERNAME")
    MAIL_PASSWORD = _env("MAIL_PASSWORD")
    MAIL_USE_TLS = _env_bool("MAIL_USE_TLS", False)
    MAIL_USE_SSL = _env_bool("MAIL_USE_SSL", False)
    MAIL_TIMEOUT = _env_int("MAIL_TIMEOUT", 30)
    MAIL_DEFAULT_SENDER = _env("MAIL_DEFAULT_SENDER", "Exchange <exchange@localhost>")
    MAIL_MAX_ATTEMPTS = _env_int("MAIL_MAX_ATTEMPTS", 8)
    MAIL_RETRY_BASE_SECONDS = _env_int("MAIL_RETRY_BASE_SECONDS", 30)
    # After an attempt that may have delivered (the server's answer to the end of DATA never
    # came), the next one waits at least this long.
    MAIL_AMBIGUOUS_RETRY_SECONDS = _env_int("MAIL_AMBIGUOUS_RETRY_SECONDS", 1800)
    # How often beat runs the outbox relay, and when a claim of a worker that died is taken
    # back; unset, both follow MAIL_TIMEOUT (see mail_timing).
    MAIL_RELAY_SECONDS = _env_int("MAIL_RELAY_SECONDS", 0)
    MAIL_STALE_CLAIM_SECONDS = _env_int("MAIL_STALE_CLAIM_SECONDS", 0)

    # Absolute links in mails are built from this (no request exists in the worker).
    BASE_URL = _env("BASE_URL", "http://127.0.0.1:5000")

    BABEL_DEFAULT_LOCALE = _env("DEFAULT_LOCALE", "en")
    BABEL_DEFAULT_TIMEZONE = _env("DEFAULT_TIMEZONE", "Asia/Shanghai")
    LANGUAGES = {"en": "English", "zh_Hans_CN": "简体中文"}

    # Sessions and cookies
    SESSION_COOKIE_NAME = "exchange_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_NAME = "exchange_remember"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    REMEMBER_COOKIE_DURATION = timedelta(days=_env_int("REMEMBER_DAYS", 14))
    SESSION_HOURS = _env_int("SESSION_HOURS", 12)
    PERMANENT_SESSION_LIFETIME = timedelta(hours=SESSION_HOURS)
    HSTS = True
    PASSWORD_RESET_HOURS = _env_int("PASSWORD_RESET_HOURS", 2)
    PASSWORD_MIN_LENGTH = _env_int("PASSWORD_MIN_LENGTH", 10)
    # Students log in through the campus single sign-on: the roster import sends no invitation.
    SINGLE_SIGN_ON = _env_bool("SINGLE_SIGN_ON", False)
    # How many reverse proxies set X-Forwarded-For in front of the app (0: none).
    TRUSTED_PROXIES = _env_int("TRUSTED_PROXIES", 0)

    # Login throttling (Flask-Limiter). Storage: memory:// for one process, Redis in production.
    RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_LIMIT_PER_ADDRESS = _env("LOGIN_LIMIT_PER_ADDRESS", "10 per minute;50 per hour")
    # Failed logins from one address to one account; then the account's lock, for every
    # address but the browsers that logged into it before (README, Security).
    LOGIN_LIMIT_PER_ACCOUNT_ADDRESS = _env("LOGIN_LIMIT_PER_ACCOUNT_ADDRESS", "5 per 15 minutes")
    LOGIN_ACCOUNT_LOCK_AFTER = _env_int("LOGIN_ACCOUNT_LOCK_AFTER", 50)
    LOGIN_ACCOUNT_LOCK_SECONDS = _env_int("LOGIN_ACCOUNT_LOCK_SECONDS", 30)
    LOGIN_ACCOUNT_LOCK_MAX_SECONDS = _env_int("LOGIN_ACCOUNT_LOCK_MAX_SECONDS", 3600)
    REMEMBERED_DEVICE_DAYS = _env_int("REMEMBERED_DEVICE_DAYS", 90)
    # Wrong current passwords on the password-change form, per account.
    PASSWORD_CHANGE_LIMIT = _env("PASSWORD_CHANGE_LIMIT", "5 per 15 minutes")
    # Reset mails per account (the newest link is the only one that works).
    PASSWORD_RESETS_PER_HOUR = _env_int("PASSWORD_RESETS_PER_HOUR", 3)

    MAX_CONTENT_LENGTH = _env_int("MAX_UPLOAD_MB", 10) * 1024 * 1024
    UPLOAD_DIR = _env("UPLOAD_DIR", str(INSTANCE / "uploads"))
    # Import files larger than this are checked and imported by the worker, with a progress page.
    IMPORT_INLINE_BYTES = _env_int("IMPORT_INLINE_KB", 512) * 1024
    # After this long without a start (queued) or without progress, the progress page says
    # that the worker seems not to be running.
    IMPORT_WORKER_WAIT_SECONDS = _env_int("IMPORT_WORKER_WAIT_SECONDS", 120)
    ACADEMIC_YEAR_START_MONTH = _env_int("ACADEMIC_YEAR_START_MONTH", 9)

    # Scheduled mail. Students with a draft are reminded this many days before a call closes.
    REMINDER_DAYS_BEFORE_CLOSING = tuple(
        int(d) for d in _env("REMINDER_DAYS_BEFORE_CLOSING", "7,3,1").split(",") if d.strip()
    )
    # Students with an open offer are reminded this many days before it expires.
    OFFER_REMINDER_DAYS = tuple(
        int(d) for d in _env("OFFER_REMINDER_DAYS", "3,1").split(",") if d.strip()
    )
    # Digests go out at this hour (in the recipient's time zone); weekly ones on Mondays.
    DIGEST_HOUR = _env_int("DIGEST_HOUR", 7)
    DIGEST_SKIP_EMPTY = _env_bool("DIGEST_SKIP_EMPTY", True)
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session

    SECRET_KEY_REQUIRED = False

    @classmethod
    def finalize(cls, settings):
        """Fill settings that depend on others (called by create_app)."""
        if not settings.get("SECRET_KEY"):
            settings["SECRET_KEY"] = _secret_key(
                settings["INSTANCE_DIR"], required=settings["SECRET_KEY_REQUIRED"]
            )
        return mail_timing(settings)


def mail_timing(settings):
    """Fill the relay interval and the stale-claim age from MAIL_TIMEOUT when they are unset.

    A worker gives up on a server within MAIL_STALE_CLAIM_SECONDS − MAIL_TIMEOUT of its claim
    (exchange/mail/delivery.py), so a claim taken back from a worker that seems dead can no
    longer be delivered by it: the stale age must leave it at least one MAIL_TIMEOUT.
    """
    timeout = settings["MAIL_TIMEOUT"]
    if not settings.get("MAIL_RELAY_SECONDS"):
        settings["MAIL_RELAY_SECONDS"] = 2 * timeout
    if not settings.get("MAIL_STALE_CLAIM_SECONDS"):
        settings["MAIL_STALE_CLAIM_SECONDS"] = 5 * timeout
    if settings["MAIL_STALE_CLAIM_SECONDS"] < 2 * timeout:
        raise RuntimeError(
            "MAIL_STALE_CLAIM_SECONDS must be at least twice MAIL_TIMEOUT (see README, Configuration)."
        )
    return settings


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    DEBUG = _env_bool("FLASK_DEBUG", False)
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    HSTS = False


class ProductionConfig(Config):
    ENV_NAME = "production"
    SECRET_KEY_REQUIRED = True


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False
    HSTS = True
    MAIL_BACKEND = "memory"
    MAIL_DISPATCH = "record"  # tests deliver explicitly or through a real worker
    TASK_DISPATCH = "record"  # deferred tasks too (core.deferred)
    RATELIMIT_STORAGE_URI = "memory://"


CONFIGS = {
    "development": DevelopmentConfig,
    "production": ProductionConfig,
    "testing": TestingConfig,
}


def config_for(name=None):
    return CONFIGS[name or _env("EXCHANGE_ENV", "development")]
