"""`python -m sandbox`: serve the sandbox on SANDBOX_HOST:SANDBOX_PORT (default 127.0.0.1:8001)."""

from __future__ import annotations

import logging
import os

from .app import create_app
from .server import SandboxServer
from .settings import ENV_FILE, REPO_ROOT


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    host = os.environ.get("SANDBOX_HOST", "127.0.0.1")
    port = int(os.environ.get("SANDBOX_PORT", "8001"))
    state_dir = os.environ.get("SANDBOX_STATE_DIR") or str(REPO_ROOT / "instance" / "sandbox")
    server = SandboxServer(create_app({"state_dir": state_dir}), host=host, port=port, quiet=False)
    log = logging.getLogger("sandbox")
    log.info("credentials from %s, ids kept in %s", ENV_FILE, state_dir)
    log.info("WeChat + WeChat Pay sandbox listening on %s", server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log.info("stopping")


if __name__ == "__main__":
    main()
