"""Exchange: student overseas study exchange management."""

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import config_for
from worker.celery_app import init_celery

from . import models  # noqa: F401 - every table is known to SQLAlchemy and Alembic
from .accounts import labels as accounts_labels
from .accounts import logins as account_logins
from .admin.views import bp as admin_bp
from .applications import usage as application_usage
from .applications.staff_views import bp as applications_staff_bp
from .applications.views import bp as applications_bp
from .approvals import operations as approvals_operations
from .approvals.substitute_views import bp as substitutes_bp
from .approvals.views import bp as approvals_bp
from .auth.views import bp as auth_bp
from .calls import queries as call_queries
from .calls.views import bp as calls_bp
from .catalogue import labels as catalogue_labels
from .catalogue.cli import partners_cli
from .catalogue.io_views import bp as catalogue_io_bp
from .catalogue.views import bp as catalogue_bp
from .chains.views import bp as chains_bp
from .cli import seed_cli, users_cli
from .core import audit, errors, fragments, i18n, params, security
from .core.database import configure_engine
from .extensions import babel, csrf, db, limiter, login_manager, migrate
from .mail import dispatch
from .main.views import bp as main_bp
from .notifications import receivers as notification_receivers
from .notifications.views import bp as notifications_bp
from .selection import labels as selection_labels
from .selection import publication as selection_publication
from .selection import publication_views  # noqa: F401  (its routes join the selection blueprint)
from .selection.cli import selection_cli
from .selection.views import bp as selection_bp
from .students.cli import students_cli
from .students.roster_views import bp as roster_bp
from .students.views import bp as students_bp

ROOT = Path(__file__).resolve().parent.parent


def create_app(config=None, **overrides):
    """Build the application. `config` is a name ("testing") or a config class."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    cls = config_for(config) if config is None or isinstance(config, str) else config
    settings = {key: getattr(cls, key) for key in dir(cls) if key.isupper()}
    settings.update(overrides)
    cls.finalize(settings)
    app.config.update(settings)
    Path(app.config["INSTANCE_DIR"]).mkdir(parents=True, exist_ok=True)

    if app.config["TRUSTED_PROXIES"]:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def register_extensions(app):
    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=i18n.select_timezone)
    i18n.init_app(app)
    audit.init_app(app)
    # Features fill the template namespace with their own labels; core names none of them.
    accounts_labels.init_app(app)
    catalogue_labels.init_app(app)
    selection_labels.init_app(app)
    selection_publication.init_app(app)
    fragments.init_app(app)
    login_manager.init_app(app)
    security.init_app(app)
    account_logins.init_app(app)
    params.init_app(app)

    init_celery(app)
    dispatch.init_app(app)
    # The lower packages' signals reach the higher ones (connecting twice is harmless), and
    # the higher ones answer the lower ones' hooks (docs/architecture.md).
    call_queries.init_app(app)
    application_usage.init_app(app)
    approvals_operations.init_app(app)
    notification_receivers.init_app(app)


def register_blueprints(app):
    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(catalogue_bp, url_prefix="/catalogue")
    app.register_blueprint(catalogue_io_bp, url_prefix="/catalogue")
    app.register_blueprint(calls_bp, url_prefix="/calls")
    app.register_blueprint(applications_bp, url_prefix="/applications")
    app.register_blueprint(applications_staff_bp, url_prefix="/calls")
    app.register_blueprint(chains_bp, url_prefix="/approvals/chains")
    app.register_blueprint(substitutes_bp, url_prefix="/approvals/substitutes")
    app.register_blueprint(approvals_bp, url_prefix="/approvals")
    app.register_blueprint(notifications_bp, url_prefix="/notifications")
    app.register_blueprint(students_bp)
    app.register_blueprint(roster_bp, url_prefix="/students")
    app.register_blueprint(selection_bp)


def register_errorhandlers(app):
    errors.init_app(app)


def register_commands(app):
    app.cli.add_command(users_cli)
    app.cli.add_command(seed_cli)
    app.cli.add_command(partners_cli)
    app.cli.add_command(students_cli)
    app.cli.add_command(selection_cli)
