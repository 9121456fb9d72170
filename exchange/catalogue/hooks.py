"""What the catalogue asks the packages above it (docs/architecture.md): calls say which
agreements are offered in an open call, applications how many students went to a partner.
They provide the answers in their init_app; the catalogue names none of them."""

from ..core.hooks import Hook

#: (now) -> an SQL condition on Agreement: it has places in a call accepting applications
#: at `now`. Provided by calls.
offered_in_open_call = Hook("catalogue.offered_in_open_call")

#: (partner id column) -> a scalar subquery: how many of our students went to that partner
#: (placed on one of its agreements and accepted by the host, departed or back). Provided by
#: applications.
students_sent = Hook("catalogue.students_sent")
