"""`python -m bots.cohost`: the co-host bot process (one per deployment is enough; a second
one with another BOT_CONSUMER shares the work)."""

import os
import signal
import socket

from backend import requestid
from backend.app import create_app
from bots.cohost.bot import CoHost


def main() -> None:
    requestid.configure_logging()
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    consumer = os.environ.get("BOT_CONSUMER") or f"cohost-{socket.gethostname()}"
    CoHost(create_app(), consumer).run(should_stop=lambda: bool(stopping))


if __name__ == "__main__":
    main()
