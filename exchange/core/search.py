"""Free-text search as SQL: the user's words match literally, `%` and `_` included."""


def like_pattern(text):
    """A LIKE pattern for "contains `text`" (lower-cased), to use with escape="\\"."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def contains(expression, text):
    """`expression` (already lower-case, or lowered by the caller) contains `text`."""
    return expression.like(like_pattern(text), escape="\\")
