"""kombu's filesystem transport (the broker that needs no server) with atomic writes.

kombu writes a message straight under its final name, so a worker polling the folder can take
the file before its content is written and fail on an empty message. Here the message is
written under a name the reader ignores and then renamed, which is atomic on POSIX."""

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + ".part"  # not "<queue>.msg": the reader skips it
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel


def install():
    """Make "filesystem://" broker URLs use this transport."""
    TRANSPORT_ALIASES["filesystem"] = "worker.broker:Transport"
