"""What calls ask the packages above them (docs/architecture.md): applications count the
applications to a call and the choices that rank its offerings. Applications provides the
answers in its init_app; calls names no package above it."""

from ..core.hooks import Hook

#: (call id) -> int: how many applications the call has.
application_count = Hook("calls.application_count")

#: (call id) -> int | None: the most choices any application to the call ranks.
most_choices_ranked = Hook("calls.most_choices_ranked")

#: (offering ids) -> {offering id: how many applications rank it} (offerings nobody ranks
#: are left out).
times_chosen = Hook("calls.times_chosen")

#: (call ids) -> {call id: {application status: count}}, each in the life cycle's order
#: (calls without applications are left out).
status_counts = Hook("calls.status_counts")

#: (student id, call ids) -> {call id: the student's application to it}.
applications_of = Hook("calls.applications_of")
