"""The review part of the application page: the chain's steps, the internal notes and, when
it is the viewer's turn, the decision. Approvals provides it through this registry, filled
when its blueprint is registered, so that the page names no package above applications."""

from collections.abc import Callable
from typing import Any, Protocol


class Review(Protocol):
    """What the application page asks of a review (anything else is its partials' own)."""

    back: tuple[str, str] | None  # a breadcrumb (label, URL) to where the viewer came from
    side_template: str  # rendered in the side column, above the timeline
    notes_template: str  # rendered below the timeline


_providers: list[Callable[[Any, Any], Review | None]] = []
_load_options: list[Any] = []


def provide(review: Callable[[Any, Any], Review | None], *load_options) -> None:
    """Register `review(application, user)`, the review `user` sees (None: no review, as for
    the student), and the loader options of what it reads of the application."""
    if review not in _providers:
        _providers.append(review)
        _load_options.extend(load_options)


def load_options() -> tuple:
    return tuple(_load_options)


def review_of(application, user) -> Review | None:
    for review in _providers:
        found = review(application, user)
        if found is not None:
            return found
    return None
