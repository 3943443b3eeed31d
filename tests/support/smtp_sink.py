"""A local SMTP server for the mail delivery tests.

Usage: python3 smtp_sink.py PORT DIR [--refuse]

Accepts mail on 127.0.0.1:PORT and writes each message to DIR as
<n>.eml, with the envelope recipients on the first line ("RCPT: a, b").
With --refuse it answers every message with "550 mailbox unavailable".
Prints "ready" once listening; stops when its standard input closes.
"""

import os
import sys
import time

from aiosmtpd.controller import Controller


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
            f.write(envelope.original_content or envelope.content)
        os.rename(path + ".tmp", path)
        return "250 OK"


def main():
    port, directory = int(sys.argv[1]), sys.argv[2]
    refuse = "--refuse" in sys.argv[3:]
    controller = Controller(Sink(directory, refuse), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
