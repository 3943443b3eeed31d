"""A local SMTP server for the mail delivery tests.

Usage: python3 smtp_sink.py PORT DIR [--refuse] [--auth USER:PASSWORD]

Accepts mail on 127.0.0.1:PORT and writes each message to DIR as
<n>.eml, with the envelope recipients on the first line ("RCPT: a, b").
With --refuse it answers every message with "550 mailbox unavailable".
With --auth it requires a login (PLAIN or LOGIN, over plain text on
loopback) with exactly that user and password, refuses any other with
"535", and writes the user that logged in on the second line
("AUTH: user"), so tests can prove whose credentials sent a message.
Prints "ready" once listening; stops when its standard input closes.
"""

import os
import warnings
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, directory, refuse):
        self.directory = directory
        self.refuse = refuse
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return "550 mailbox unavailable"
        self.count += 1
        path = os.path.join(self.directory, "%d.eml" % self.count)
        with open(path + ".tmp", "wb") as f:
            f.write(("RCPT: %s\n" % ", ".join(envelope.rcpt_tos)).encode())
            user = getattr(session, "sink_user", None)
            if user is not None:
                f.write(("AUTH: %s\n" % user).encode())
            f.write(envelope.original_content or envelope.content)
        os.rename(path + ".tmp", path)
        return "250 OK"


class Authenticator:
    """Accepts exactly one user and password; remembers who logged in."""

    def __init__(self, user, password):
        self.user = user.encode()
        self.password = password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        if auth_data.login == self.user and auth_data.password == self.password:
            session.sink_user = auth_data.login.decode()
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


def option(name):
    args = sys.argv[3:]
    if name in args and args.index(name) + 1 < len(args):
        return args[args.index(name) + 1]
    return None


def main():
    # aiosmtpd warns that AUTH without TLS is unsafe: true, and intended here.
    warnings.simplefilter("ignore")
    port, directory = int(sys.argv[1]), sys.argv[2]
    refuse = "--refuse" in sys.argv[3:]
    auth = option("--auth")
    extra = {}
    if auth is not None:
        user, _, password = auth.partition(":")
        extra = dict(
            authenticator=Authenticator(user, password),
            auth_required=True,
            # The sink listens on loopback only; tests log in without TLS.
            auth_require_tls=False,
        )
    controller = Controller(
        Sink(directory, refuse), hostname="127.0.0.1", port=port, **extra
    )
    controller.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
