"""What applications tell the packages above them (approvals, notifications), which connect
in their init_app; applications names none of them."""

from flask.signals import Namespace

_signals = Namespace()

#: An application was (re)submitted, its status already SUBMITTED. Sender: the application;
#: kwargs: actor.
submitted = _signals.signal("application-submitted")

#: An application is being withdrawn (sent before its status changes, while its review is
#: still open). Sender: the application; kwargs: actor, reason.
withdrawn = _signals.signal("application-withdrawn")

#: Asked by can_view for someone who is neither owner, staff nor reviewer: a receiver returns
#: True when `user` may see the application for a reason of its own (e.g. approving a step).
#: Sender: the application; kwargs: user.
viewer_check = _signals.signal("application-viewer-check")
