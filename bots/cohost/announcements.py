"""The host's scheduled messages (自动发言) as the co-host bot posts them: it looks at a live
room's announcements every LOOK_EVERY seconds and posts those whose tick is due
(backend.live.announcements.post_due decides, once per tick across every bot process)."""

from __future__ import annotations

import time

from sqlalchemy.orm import Session

from backend.live import announcements

LOOK_EVERY = 2.0  # seconds: a tick is posted at most this late, a new announcement found as soon


class ScheduledMessages:
    def __init__(self):
        self._next: dict[int, float] = {}

    def due_now(self) -> None:
        """Look at every room's announcements on the next step."""
        self._next.clear()

    def post(self, session: Session, room_id: int) -> list[int]:
        """Post the room's due announcements, if it is time to look; answers the ids posted."""
        now = time.monotonic()
        if now < self._next.get(room_id, 0.0):
            return []
        self._next[room_id] = now + LOOK_EVERY
        return announcements.post_due(session, room_id=room_id)
