"""Where uploaded files live: a directory on local disk by default (MEDIA_DIR), behind a small
interface an object store could implement instead (put / get by an unguessable key)."""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from backend.config import INSTANCE_DIR


class LocalStorage:
    def __init__(self, root: Path):
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / key

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(path)  # a reader never sees half a file

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        return path.read_bytes() if path.is_file() else None


def storage() -> LocalStorage:
    return LocalStorage(Path(current_app.config["MEDIA_DIR"] or INSTANCE_DIR / "media"))
