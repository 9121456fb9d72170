"""Counting the SQL statements a page issues: list pages must not grow with their rows."""

import sqlalchemy as sa

from exchange.extensions import db


class StatementCounter:
    def __init__(self, engine):
        self.engine = engine
        self.count = 0
        self.statements = []

    def __call__(self, _conn, _cursor, statement, *args, **kwargs):
        self.count += 1
        self.statements.append(statement)

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self)


def count_statements(client, url):
    """The statements of rendering `url` (no page is kept: each request renders it)."""
    client.get(url)  # warm-up: first-time loads
    with StatementCounter(db.engine) as counter:
        resp = client.get(url)
    assert resp.status_code == 200, resp.status_code
    return counter.count
