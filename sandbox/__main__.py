"""`python -m sandbox`: serve the sandbox on SANDBOX_HOST:SANDBOX_PORT (default 127.0.0.1:8001)."""

from __future__ import annotations

import logging
import os

from .app import create_app
from .server import SandboxServer
from .settings import ENV_FILE


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    host = os.environ.get("SANDBOX_HOST", "127.0.0.1")
    port = int(os.environ.get("SANDBOX_PORT", "8001"))
    server = SandboxServer(create_app(), host=host, port=port, quiet=False)
    log = logging.getLogger("sandbox")
    log.info("credentials from %s", ENV_FILE)
    log.info("WeChat + WeChat Pay sandbox listening on %s", server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log.info("stopping")


if __name__ == "__main__":
    main()
