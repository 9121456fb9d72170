"""Hooks: how a lower package asks a question that only a higher one can answer.

A lower package declares a `Hook` and calls it; the higher package provides the answer in its
`init_app` (create_app calls those). The lower package thus names no package above it, as with
the blinker signals a package sends when it only tells (docs/architecture.md)."""

from collections.abc import Callable
from typing import Any


class Hook:
    """One function, declared by the package that calls it, provided by one above it."""

    def __init__(self, name: str):
        self.name = name
        self._provider: Callable[..., Any] | None = None

    def provide(self, provider: Callable[..., Any]) -> Callable[..., Any]:
        """Answer this hook with `provider` (providing it again replaces the answer)."""
        self._provider = provider
        return provider

    @property
    def provided(self) -> bool:
        return self._provider is not None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._provider is None:
            raise LookupError(f"Nothing provides the hook {self.name}: create the app first.")
        return self._provider(*args, **kwargs)
