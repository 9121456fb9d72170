"""What selection tells the packages above it (notifications), which connect in their
init_app; selection names none of them."""

from flask.signals import Namespace

_signals = Namespace()

#: An offer changed (in the transaction that changed it). Sender: the SelectionOffer;
#: `change` is "accepted", "declined", "expired" or "upgraded" (a new offer of a higher
#: choice; `previous` is the offer it replaced, or None for a waitlisted student).
offer_changed = _signals.signal("offer-changed")
