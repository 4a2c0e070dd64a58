"""Ids the stand-ins hand out (live room ids, goods and audit ids, message ids), never handed out
twice, even across a restart or a reset, as WeChat's are: the backend keeps them in its database.

With a state dir the counters live in `<state_dir>/ids.json`. Ids are reserved in blocks, as
database sequences do, so a file is written once per block, not per id; a restart continues after
the last reserved block (a gap, never a repeat). Without a state dir (most tests) they live in
memory. Callers hold the sandbox lock.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

FIRST: dict[str, int] = {
    "roomid": 1,
    "goods_id": 1,
    "audit_id": 500_000_001,
    "subscribe_msgid": 2_800_000_000_000_000_001,
    "oa_template_msgid": 3_100_000_001,
    "oa_custom_msgid": 1,
    "oa_push_msgid": 24_500_000_000_000_001,
}
BLOCK = 100


class Ids:
    def __init__(self, state_dir: str | Path | None = None):
        self.path = Path(state_dir) / "ids.json" if state_dir else None
        saved: dict[str, int] = {}
        if self.path is not None and self.path.exists():
            saved = {k: int(v) for k, v in json.loads(self.path.read_text("utf-8")).items()}
        self._reserved = dict(saved)  # ids below this are on disk as given out
        self._next = dict(saved)

    def take(self, name: str) -> int:
        """The next id of that kind."""
        value = self._next.get(name, FIRST[name])
        self._next[name] = value + 1
        if self.path is not None and value >= self._reserved.get(name, FIRST[name]):
            self._reserved[name] = value + BLOCK
            self._save()
        return value

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        scratch = self.path.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_text(json.dumps(self._reserved, indent=1), "utf-8")
        os.replace(scratch, self.path)  # never a half-written file, even if killed mid-write
