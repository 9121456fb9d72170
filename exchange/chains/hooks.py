"""What chains ask the package above them (docs/architecture.md): calls say which calls name
a chain. Calls provides the answers in its init_app; chains names no package above it."""

from ..core.hooks import Hook

#: () -> {chain id: how many calls name it} (chains no call names are left out).
call_counts = Hook("chains.call_counts")

#: (chain id) -> the calls that name the chain, the latest to open first.
calls_naming = Hook("chains.calls_naming")
