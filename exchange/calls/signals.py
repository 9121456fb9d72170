"""What calls tell the packages above them (notifications), which connect in their
init_app; calls names none of them."""

from flask.signals import Namespace

_signals = Namespace()

#: A call has opened (in the transaction that opened it). Sender: the call.
opened = _signals.signal("call-opened")
