"""A real SMTP server for tests (aiosmtpd), which can refuse mail for a while."""

import asyncio
import socket
import threading

from aiosmtpd.controller import Controller


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    def __init__(self):
        self.messages = []
        self.refuse_next = 0  # answer 451 to this many DATA commands
        self.reject_permanently = False
        self.lock = threading.Lock()
        # After this many accepted messages, the next transaction hangs in RCPT until
        # release(): a client (worker) can then be killed while it waits on the server.
        self.stall_after = None
        self.stalled = False
        self._release = threading.Event()

    def release(self):
        self._release.set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.stall_after is not None and len(self.messages) >= self.stall_after:
            self.stalled = True
            await asyncio.get_running_loop().run_in_executor(None, self._release.wait, 120)
            return "451 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.reject_permanently:
                return "550 mailbox unavailable"
            if self.refuse_next > 0:
                self.refuse_next -= 1
                return "451 try again later"
            self.messages.append(envelope)
        return "250 OK"


class SMTPServer:
    def __init__(self):
        self.handler = Recorder()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()

    @property
    def messages(self):
        return self.handler.messages
