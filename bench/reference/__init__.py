"""Minimal references for the key pages (bench/inprocess.py): a bare Flask app, separate from
create_app, that shows the same data to the same user with the fewest SELECTs (SQLAlchemy
Core on the application's tables, no ORM objects, no cache) and plain Jinja templates.

The user is the `uid` of Flask's own signed session cookie: one SELECT reads who they are,
their roles, units, unread notifications and, for students, what eligibility needs. Each page
adds one statement per thing it shows (PostgreSQL only: json_agg, array_agg)."""

from pathlib import Path

import sqlalchemy as sa
from flask import Flask, abort, g, render_template, request, session

from . import sql

PER_PAGE = 50


def create_reference_app(engine: sa.Engine) -> Flask:
    app = Flask(__name__, template_folder=str(Path(__file__).parent / "templates"))
    app.secret_key = "reference-" + "x" * 40
    app.jinja_env.autoescape = True
    app.jinja_env.add_extension("jinja2.ext.do")

    def run(stmt):
        return g.conn.execute(stmt)

    @app.before_request
    def _connect():
        g.conn = engine.connect()
        row = g.conn.execute(sql.header(session["uid"])).one()
        g.user = sql.UserFacts.of(row)

    @app.teardown_request
    def _close(_exc):
        conn = g.pop("conn", None)
        if conn is not None:
            conn.close()

    @app.get("/office/<int:call_id>")
    def office_list(call_id):
        f = sql.OfficeFilters.from_args(request.args)
        head = run(sql.office_counts(call_id, f, g.user)).all()
        if not head:
            abort(404)
        title, waiting = head[0].title, head[0].waiting
        counts = {r.status: r.n for r in head if r.status is not None}
        total = sum(
            n for s, n in counts.items() if (s in f.statuses if f.statuses else s != "draft")
        )
        pages = max(1, -(-total // PER_PAGE))
        page = min(f.page, pages)
        options = run(sql.office_options(call_id)).all()
        rows = sql.group_choices(run(sql.office_rows(call_id, f, page, PER_PAGE)))
        return render_template(
            "office.html",
            user=g.user,
            waiting=waiting,
            title=title,
            counts=counts,
            submitted_total=sum(n for s, n in counts.items() if s != "draft"),
            options=options,
            rows=rows,
            total=total,
            page=page,
            pages=pages,
        )

    @app.get("/queue")
    def queue():
        sort = (
            request.args.get("sort") if request.args.get("sort") in sql.QUEUE_SORTS else "waiting"
        )
        page = max(1, int(request.args.get("page") or 1))
        rows = run(sql.queue_rows(g.user, sort, page, PER_PAGE)).all()
        total = rows[0].total if rows else run(sql.queue_count(g.user)).scalar()
        calls = run(sql.call_options()).all()
        return render_template(
            "queue.html",
            user=g.user,
            waiting=total,
            rows=rows,
            total=total,
            page=page,
            pages=max(1, -(-total // PER_PAGE)),
            calls=calls,
            now=sql.utcnow(),
        )

    @app.get("/catalogue")
    def catalogue():
        q = (request.args.get("q") or "").strip()[:100]
        eligible = request.args.get("eligible") == "1"
        page = max(1, int(request.args.get("page") or 1))
        partners = run(sql.catalogue_partners(g.user, q, eligible, page, 20)).all()
        agreements = {}
        if partners:
            ids = [p.id for p in partners]
            for a in run(sql.agreements(g.user, ids, eligible)):
                agreements.setdefault(a.partner_id, []).append(a)
        units = run(sql.unit_options()).all()
        total = partners[0].total if partners else 0
        return render_template(
            "catalogue.html",
            user=g.user,
            partners=partners,
            agreements=agreements,
            units=units,
            total=total,
            page=page,
            pages=max(1, -(-total // 20)),
        )

    @app.get("/partners/<int:partner_id>")
    def partner(partner_id):
        p = run(sql.partner(partner_id)).first()
        if p is None:
            abort(404)
        agreements = run(sql.agreements(g.user, [partner_id], False)).all()
        return render_template("partner.html", user=g.user, p=p, agreements=agreements)

    @app.get("/home")
    def home():
        applications = run(sql.student_applications(g.user.id)).all()
        open_calls = run(sql.open_calls(g.user.id)).all()
        return render_template(
            "home.html", user=g.user, applications=applications, open_calls=open_calls
        )

    @app.get("/applications/<int:application_id>")
    def application(application_id):
        a = run(sql.application(application_id, g.user.id)).first()
        if a is None:
            abort(404)
        offerings = []
        if a.status in ("draft", "returned") and a.accepting:
            offerings = run(sql.offerings(g.user, a.call_id)).all()
        return render_template("application.html", user=g.user, a=a, offerings=offerings)

    return app
