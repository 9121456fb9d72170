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
        # Slow servers: seconds before answering RCPT, before answering the end of DATA (the
        # message is already stored), and before answering QUIT.
        self.rcpt_delay = 0
        self.data_reply_delay = 0
        self.quit_delay = 0
        self.quit_received = threading.Event()

    def release(self):
        self._release.set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.stall_after is not None and len(self.messages) >= self.stall_after:
            self.stalled = True
            await asyncio.get_running_loop().run_in_executor(None, self._release.wait, 120)
            return "451 try again later"
        if self.rcpt_delay:
            await asyncio.sleep(self.rcpt_delay)
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
        if self.data_reply_delay:
            await asyncio.sleep(self.data_reply_delay)
        return "250 OK"

    async def handle_QUIT(self, server, session, envelope):
        self.quit_received.set()
        if self.quit_delay:
            await asyncio.sleep(self.quit_delay)
        return "221 Bye"


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
