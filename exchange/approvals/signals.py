"""What approvals tell the packages above them (notifications), which connect in their
init_app; approvals names none of them."""

from flask.signals import Namespace

_signals = Namespace()

#: A new round of steps was started for a (re)submitted application. Sender: the
#: application; kwargs: steps (the round's steps), actor.
chain_started = _signals.signal("chain-started")

#: A step now waits for its approvers. Sender: the step; kwargs: application, context.
step_activated = _signals.signal("step-activated")

#: A step was decided and the application moved on. Sender: the step; kwargs: application,
#: decision, outcome ("returned", "rejected", "decided" - more steps follow - or "approved"),
#: context.
step_decided = _signals.signal("step-decided")

#: The review of a withdrawn application was cancelled. Sender: the application; kwargs:
#: waiting_on (the approvers the current step waited for), reason.
review_cancelled = _signals.signal("review-cancelled")
