"""What selection tells the packages above it (notifications), which connect in their
init_app; selection names none of them."""

from flask.signals import Namespace

_signals = Namespace()

#: A committed allocation was published (in the transaction that published it). Sender: the
#: Publication; every applicant of its run is to hear their outcome.
published = _signals.signal("selection-published")

#: The objection window of a publication ended and its result is final (sent once, by the
#: beat or on read, in the transaction that recorded it). Sender: the Publication.
finalised = _signals.signal("selection-finalised")

#: The office answered an objection. Sender: the Objection.
objection_answered = _signals.signal("selection-objection-answered")

#: An offer changed (in the transaction that changed it). Sender: the SelectionOffer;
#: `change` is "accepted", "declined", "expired" or "upgraded" (a new offer of a higher
#: choice; `previous` is the offer it replaced, or None for a waitlisted student).
offer_changed = _signals.signal("offer-changed")
