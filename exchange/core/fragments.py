"""`{% cache key, ... %}…{% endcache %}` in templates: the enclosed markup is rendered once per
key and kept in process.

For markup that is the same on every request of a kind, such as the navigation bar of
base.html, which takes a noticeable share of a page's time to render (a dozen URLs and
translations). The key must name everything the markup shows; the language, the URL prefix
and the fragment's place in its template are added to it. Nothing per request (a CSRF token,
flashed messages) belongs inside. With template auto-reload (development) nothing is cached, so
that edited templates show at once.
"""

from flask import has_request_context, request
from flask_babel import get_locale
from jinja2 import nodes
from jinja2.ext import Extension

from .cache import LRUCache


class FragmentCache(Extension):
    tags = {"cache"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        parts = [nodes.Const(parser.name), nodes.Const(lineno), parser.parse_expression()]
        while parser.stream.skip_if("comma"):
            parts.append(parser.parse_expression())
        body = parser.parse_statements(("name:endcache",), drop_needle=True)
        key = nodes.Tuple(parts, "load")
        call = self.call_method("_render", [key])
        return nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _render(self, key, caller):
        if self.environment.auto_reload or not has_request_context():
            return caller()
        # Sets (a user's roles) are rebuilt on each request; their frozen copy is a stable key.
        key = tuple(frozenset(part) if isinstance(part, set) else part for part in key)
        return _fragments.get_or_set((str(get_locale()), request.script_root, key), caller)


_fragments = LRUCache("fragments", maxsize=4096)


def init_app(app):
    app.jinja_env.add_extension(FragmentCache)
